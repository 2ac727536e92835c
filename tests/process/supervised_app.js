// An application run by ringfork --app (Node's own http module, as an application would
// use it): it listens on 127.0.0.1:$PORT and says who it is.
//   GET /hello   "hello from node <pid> instance <RINGFORK_APP_INSTANCE>"
//   GET /env     {"pid", "port", "instance", "child"} as JSON (child: the pid of its helper)
//   GET /health  200 "ok", until /hang
//   GET /hang    from now on /health gets no answer and TERM is ignored (a hung instance)
//   GET /exit?code=N  exits with N after answering
//   GET /held   logs "held request arrived at <pid>", answers ("held by <pid>") only once
//               the file $APP_DIR/release exists
// With APP_DIR set, /health answers 503 while the file $APP_DIR/sick exists.
// On start it prints one line on stdout and one on stderr, a line longer than ringfork's
// log limit and one with an escape character, and starts a helper child (sleep) in its
// process group, so that tests can see whether the whole group goes with it.
'use strict';
const http = require('http');
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const port = Number(process.env.PORT);
const instance = process.env.RINGFORK_APP_INSTANCE;
const helper = spawn('sleep', ['600'], { stdio: 'ignore' });
const dir = process.env.APP_DIR;
const exists = (name) => dir !== undefined && fs.existsSync(path.join(dir, name));
let hung = false;

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const send = (status, body, type = 'text/plain') => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  switch (url.pathname) {
  case '/hello':
    return send(200, `hello from node ${process.pid} instance ${instance}`);
  case '/env':
    return send(200, JSON.stringify({ pid: process.pid, port: process.env.PORT, instance, child: helper.pid }),
                'application/json');
  case '/health':
    if (hung) return; // never answered
    return exists('sick') ? send(503, 'sick') : send(200, 'ok');
  case '/held': {
    // Polled rather than watched: bounded at 30 s, then answered anyway.
    process.stdout.write(`held request arrived at ${process.pid}\n`);
    let rounds = 0;
    const poll = () => (exists('release') || ++rounds > 1500 ? send(200, `held by ${process.pid}`)
                                                               : setTimeout(poll, 20));
    return poll();
  }
  case '/hang':
    hung = true;
    process.removeAllListeners('SIGTERM');
    process.on('SIGTERM', () => {});
    return send(200, 'hanging');
  case '/exit':
    send(200, 'bye');
    setTimeout(() => process.exit(Number(url.searchParams.get('code') || 0)), 10);
    return;
  default:
    return send(404, 'not here');
  }
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`node app listening pid=${process.pid} port=${port} instance=${instance}\n`);
  process.stderr.write(`node app stderr instance=${instance}\n`);
  process.stdout.write('long:' + 'x'.repeat(10000) + '\n');
  process.stdout.write('escape:\x1b[31mred\n');
});
process.on('SIGTERM', () => process.exit(0));
