/**
 * A fault-injecting layer on a real Route 53 SDK client, for what moto never does: throttle, answer
 * PriorRequestNotComplete, leave a change PENDING, reject a whole batch atomically. It is two SDK
 * middlewares, so everything else is the real client talking to the real moto_server:
 *
 * - at `initialize` (outermost) it counts every `send` per operation, keeps its input, and can turn
 *   GetChange's INSYNC into PENDING for a while;
 * - at `deserialize` (innermost, just before the HTTP handler) a scripted fault answers in moto's place
 *   with the HTTP 400 XML body Route 53 sends, so the SDK's own deserialiser builds the error exactly as
 *   it would from AWS (e.g. `Throttling` arrives as an unmodelled error named after its code). A faulted
 *   request never reaches moto: like Route 53 refusing a batch, nothing of it is applied.
 */
import { Readable } from 'node:stream';
import type { Route53Client } from '@aws-sdk/client-route-53';

export type Route53Operation = 'ChangeResourceRecordSets' | 'GetChange' | 'ListResourceRecordSets' | (string & {});

export type Route53FaultKind =
  /** HTTP 400, <Code>Throttling</Code>: how Route 53 throttles (not a modelled exception). */
  | 'Throttling'
  /** The modelled ThrottlingException. */
  | 'ThrottlingException'
  | 'PriorRequestNotComplete'
  /** The batch is refused as a whole, in the standard error shape. */
  | 'InvalidChangeBatch'
  /** The batch is refused in Route 53's older shape, <InvalidChangeBatch><Messages>... */
  | 'InvalidChangeBatchMessages';

export interface SentCall {
  operation: string;
  input: any;
  /** `sent` reached moto; otherwise the fault that answered instead. */
  outcome: 'sent' | Route53FaultKind;
}

const DEFAULT_MESSAGES: Record<Route53FaultKind, string> = {
  Throttling: 'Rate exceeded',
  ThrottlingException: 'Rate exceeded',
  PriorRequestNotComplete: 'The request was rejected because Route 53 was still processing a prior request.',
  InvalidChangeBatch:
    "[Tried to create resource record set [name='app.example.test.', type='A', set-identifier='new'] but it already exists]",
  InvalidChangeBatchMessages:
    "Tried to create resource record set [name='app.example.test.', type='A', set-identifier='new'] but it already exists",
};

const NS = 'https://route53.amazonaws.com/doc/2013-04-01/';
const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

function errorBody(kind: Route53FaultKind, message: string, requestId: string): string {
  if (kind === 'InvalidChangeBatchMessages') {
    return `<?xml version="1.0"?>\n<InvalidChangeBatch xmlns="${NS}"><Messages><Message>${xml(message)}</Message></Messages><RequestId>${requestId}</RequestId></InvalidChangeBatch>`;
  }
  return `<?xml version="1.0"?>\n<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${kind}</Code><Message>${xml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

const opName = (commandName: unknown): string => String(commandName ?? '').replace(/Command$/, '');

export class Route53Faults {
  /** Every `send` in order, with its outcome. */
  readonly sent: SentCall[] = [];
  private readonly scripted = new Map<string, Array<{ kind: Route53FaultKind; message: string }>>();
  private pendingLeft = 0;
  /** Changes submitted since pendingForeverOnNextChange (null: off): GetChange says PENDING while it is 0 or 1. */
  private changesSinceStuck: number | null = null;
  private faultCount = 0;

  private constructor() {}

  static attach(client: Route53Client): Route53Faults {
    const faults = new Route53Faults();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const call: SentCall = { operation: opName(context.commandName), input: structuredClone(args.input), outcome: 'sent' };
        faults.sent.push(call);
        (context as { lmsFaultCall?: SentCall }).lmsFaultCall = call;
        const result = await next(args);
        const output = result.output as { ChangeInfo?: { Status?: string; Id?: string } };
        // moto gives every change of a zone the same id, so the stuck change is told by order, not by id.
        if (call.operation === 'ChangeResourceRecordSets' && faults.changesSinceStuck !== null) faults.changesSinceStuck++;
        const stuck = call.operation === 'GetChange' && faults.changesSinceStuck === 1;
        if (call.operation === 'GetChange' && output.ChangeInfo && (stuck || faults.pendingLeft > 0)) {
          if (!stuck) faults.pendingLeft--;
          output.ChangeInfo.Status = 'PENDING';
        }
        return result;
      },
      { step: 'initialize', priority: 'high', name: 'lmsFaultCounter' },
    );
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const call = (context as { lmsFaultCall?: SentCall }).lmsFaultCall;
        const fault = call ? faults.scripted.get(call.operation)?.shift() : undefined;
        if (!call || !fault) return next(args);
        call.outcome = fault.kind;
        const requestId = `fault-${++faults.faultCount}`;
        const response = {
          statusCode: 400,
          headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
          body: Readable.from([Buffer.from(errorBody(fault.kind, fault.message, requestId))]),
        };
        return { response, output: undefined as never };
      },
      { step: 'deserialize', priority: 'low', name: 'lmsFaultInjector' },
    );
    return faults;
  }

  /** The next `times` calls of `operation` get this error instead of reaching moto. */
  fail(operation: Route53Operation, kind: Route53FaultKind, times = 1, message = DEFAULT_MESSAGES[kind]): this {
    const queue = this.scripted.get(operation) ?? [];
    for (let i = 0; i < times; i++) queue.push({ kind, message });
    this.scripted.set(operation, queue);
    return this;
  }

  /** The next `times` GetChange answers say PENDING (moto always says INSYNC); Infinity for ever. */
  pending(times: number): this {
    this.pendingLeft = times;
    return this;
  }

  /**
   * The next change submitted stays PENDING until another change is submitted (such as the one that puts the old
   * weights back, which then answers as moto does): a timeout that does not depend on how fast polls run.
   */
  pendingForeverOnNextChange(): this {
    this.changesSinceStuck = 0;
    return this;
  }

  /** Sends so far, of one operation or of all. */
  calls(operation?: Route53Operation): number {
    return operation === undefined ? this.sent.length : this.sent.filter((c) => c.operation === operation).length;
  }

  /** Scripted faults not used yet (a test that scripted more than it provoked is wrong). */
  unused(): number {
    let n = 0;
    for (const queue of this.scripted.values()) n += queue.length;
    return n;
  }

  /** Forgets the calls so far and any fault not used yet. */
  reset(): this {
    this.sent.length = 0;
    this.scripted.clear();
    this.pendingLeft = 0;
    this.changesSinceStuck = null;
    return this;
  }
}
