// Baseline for bench/archive.sh: the same bytes sent to the same S3 server by the SDK's own multipart uploader
// (@aws-sdk/lib-storage, 8 MiB parts, 2 at a time, no checksums). Usage: node bench/s3-put.js FILE BUCKET KEY
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const fs = require('fs');
const { S3Client } = require('@aws-sdk/client-s3');
const { Upload } = require('@aws-sdk/lib-storage');
const [file, Bucket, Key] = process.argv.slice(2);
const client = new S3Client({ forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
new Upload({ client, params: { Bucket, Key, Body: fs.createReadStream(file) }, partSize: 8 << 20, queueSize: 2 })
  .done()
  .then(() => client.destroy());
