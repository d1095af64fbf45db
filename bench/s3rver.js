// A loopback S3 server (s3rver) for bench/archive.sh: prints its port, runs until killed.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const S3rver = require('s3rver');
new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: process.argv[2], configureBuckets: [{ name: 'bags' }] })
  .run()
  .then(({ port }) => console.log(port));
