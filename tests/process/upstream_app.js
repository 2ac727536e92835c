// The Node upstream of the proxy tests (Node's own http module, as an application would
// use it). Usage: node upstream_app.js PORT|unix:PATH; prints "LISTENING <port or path>".
//   GET  /hello               "Hello from node <pid>"
//   GET  /echo-headers        the request's method, url, HTTP version and raw header lines, as JSON
//   POST|PUT /echo            the body back, streamed (chunked)
//   POST|PUT /sha256          {"sha256": ..., "bytes": ...} of the body, read as it arrives
//   GET  /download?size=N[&chunked=1]  N bytes of the test pattern, with Content-Length unless chunked
//   GET  /slow?ms=N           "slow" after N ms
//   GET  /status?code=N       an empty response with that status
'use strict';
const http = require('http');
const crypto = require('crypto');

// The pattern both sides compute: byte i is (i * 131 + 7) mod 256, repeating every 64 KiB.
const block = Buffer.alloc(65536);
for (let i = 0; i < block.length; i++) block[i] = (i * 131 + 7) & 255;

function download(res, size, chunked) {
  const headers = { 'Content-Type': 'application/octet-stream' };
  if (!chunked) headers['Content-Length'] = String(size);
  res.writeHead(200, headers);
  let left = size;
  const more = () => {
    while (left > 0) {
      const n = Math.min(left, block.length);
      left -= n;
      if (!res.write(n === block.length ? block : block.subarray(0, n))) {
        res.once('drain', more);
        return;
      }
    }
    res.end();
  };
  more();
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  switch (url.pathname) {
  case '/hello':
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`Hello from node ${process.pid}`);
    return;
  case '/echo-headers': {
    const body = JSON.stringify({ method: req.method, url: req.url, version: req.httpVersion,
                                  headers: req.rawHeaders });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  case '/echo':
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    req.pipe(res);
    return;
  case '/sha256': {
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    req.on('data', (c) => { hash.update(c); bytes += c.length; });
    req.on('end', () => {
      const body = JSON.stringify({ sha256: hash.digest('hex'), bytes });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
    return;
  }
  case '/download':
    download(res, Number(url.searchParams.get('size') || 0), url.searchParams.get('chunked') === '1');
    return;
  case '/slow':
    setTimeout(() => { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('slow'); },
               Number(url.searchParams.get('ms') || 1000));
    return;
  case '/status':
    res.writeHead(Number(url.searchParams.get('code') || 200));
    res.end();
    return;
  default:
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not here');
  }
});

const where = process.argv[2] || '0';
const onListening = () => {
  const a = server.address();
  process.stdout.write(`LISTENING ${typeof a === 'string' ? a : a.port}\n`);
};
if (where.startsWith('unix:')) server.listen(where.slice(5), onListening);
else server.listen(Number(where), '127.0.0.1', onListening);
process.on('SIGTERM', () => process.exit(0));
