import { expect } from 'chai';
import { pathSegments } from '../../../src/server/http-files';
import { parseHttpAddress, isLoopback } from '../../../src/server/http-address';

describe('web page paths and address', () => {
  it('splits a URL path into decoded names and refuses traversal, empty names and encoded separators', () => {
    expect(pathSegments('/')).to.deep.equal([]);
    expect(pathSegments('/rescued/AB%20C/file.bin')).to.deep.equal(['rescued', 'AB C', 'file.bin']);
    for (const bad of ['/..', '/sbx/..', '/%2e%2e/x', '/sbx/..%2fraw', '/a%2Fb', '/a%5Cb', '//x', '/x/', '/%00', '/%zz', '/.'])
      expect(pathSegments(bad), bad).to.equal(undefined);
  });

  it('reads HOST:PORT, defaults the host to loopback, and knows loopback when it sees it', () => {
    expect(parseHttpAddress('127.0.0.1:8080')).to.deep.equal({ host: '127.0.0.1', port: 8080 });
    expect(parseHttpAddress('8080')).to.deep.equal({ host: '127.0.0.1', port: 8080 });
    expect(parseHttpAddress('[::1]:0')).to.deep.equal({ host: '::1', port: 0 });
    expect(() => parseHttpAddress('host:99999')).to.throw(RangeError);
    expect(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost')).to.equal(true);
    expect(isLoopback('::ffff:127.0.0.1') && isLoopback('::ffff:7f00:1'), 'IPv4 loopback in IPv6, as a browser writes it in Host').to.equal(true);
    expect(isLoopback('::ffff:c0a8:102'), '192.168.1.2 in IPv6').to.equal(false);
    expect(isLoopback('0.0.0.0') || isLoopback('192.168.1.2')).to.equal(false);
    // DNS names that merely begin like loopback may resolve anywhere (DNS rebinding).
    expect(isLoopback('127.0.0.1.nip.io') || isLoopback('127.evil.example') || isLoopback('localhost.evil.example')).to.equal(false);
  });
});
