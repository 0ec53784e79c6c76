/**
 * Loaded into a worker process (NODE_OPTIONS=--require) by traffic-zombie-worker.test.ts: the first time the
 * process sends a Route 53 ChangeResourceRecordSets batch, it freezes itself (SIGSTOP), as a long GC pause, a
 * stalled VM or a process swapped out would. The test thaws it (SIGCONT) when another worker has taken its job over.
 *   LMS_FREEZE_AT=before-batch  after it decided what to send, before sending it; it says what Route 53 answered
 *                               the batch it sent on waking
 *   LMS_FREEZE_AT=after-batch   once Route 53 accepted the batch, before the intent log records `submitted`
 */
const { Route53Client } = require('@aws-sdk/client-route-53');

const point = process.env.LMS_FREEZE_AT;
const send = Route53Client.prototype.send;
let frozen = false;
const freeze = (where) => {
  process.stderr.write(`freeze preload: SIGSTOP ${where} ChangeResourceRecordSets\n`);
  process.kill(process.pid, 'SIGSTOP');
};
Route53Client.prototype.send = async function (command, ...rest) {
  if (frozen || !point || command.constructor.name !== 'ChangeResourceRecordSetsCommand') return send.call(this, command, ...rest);
  frozen = true;
  if (point === 'after-batch') {
    const result = await send.call(this, command, ...rest);
    freeze('after');
    return result;
  }
  freeze('before');
  try {
    const result = await send.call(this, command, ...rest);
    process.stderr.write('freeze preload: the batch sent after the freeze was accepted\n');
    return result;
  } catch (err) {
    process.stderr.write(`freeze preload: the batch sent after the freeze was refused (${err.name})\n`);
    throw err;
  }
};
