/**
 * Loaded into a worker process (node -r) by route53-intent-log.test.ts: the process kills itself with
 * SIGKILL at one point of a Route 53 change, as a machine failure would, so that the test can check
 * what a new worker makes of the intent it left behind.
 *   LMS_CRASH_AFTER=ChangeResourceRecordSets  right after Route 53 accepted the batch (before the
 *                                             intent log records `submitted`)
 *   LMS_CRASH_AFTER=GetChange                 while waiting for INSYNC (the intent is `submitted`)
 */
const { Route53Client } = require('@aws-sdk/client-route-53');

const point = process.env.LMS_CRASH_AFTER;
const send = Route53Client.prototype.send;
Route53Client.prototype.send = async function (command, ...rest) {
  const result = await send.call(this, command, ...rest);
  if (point && command.constructor.name === `${point}Command`) {
    process.stderr.write(`crash preload: SIGKILL after ${point}\n`);
    process.kill(process.pid, 'SIGKILL');
    await new Promise(() => undefined);
  }
  return result;
};
