/**
 * A TCP proxy in front of the legacy server that speaks enough of MongoDB's wire protocol (OP_MSG) to see each
 * command and to doctor the answers to writes: what a replica set does that the dev server cannot (it has no
 * replicas and ignores write concerns).
 *
 * - `commands`: every command that went through, with the write and read concerns it asked for (while
 *   `recording`, which decodes each one).
 * - `writes`: those of them that write (insert, update, delete, findAndModify).
 * - `failWriteConcern`: while true, every successful answer to a write command also carries a write concern error
 *   (code 64, "waiting for replication timed out"), as a primary answers when the majority did not confirm the
 *   write within `wtimeout`. The write itself happened on the server, as it does on such a primary.
 *
 * Messages other than OP_MSG, and every answer to other commands, pass through byte for byte.
 */
import * as net from 'node:net';
import { BSON, Document } from 'mongodb';

const OP_MSG = 2013;
const HEADER = 16;
const CHECKSUM_PRESENT = 1;
const WRITE_COMMANDS = new Set(['insert', 'update', 'delete', 'findandmodify']);
/** Keeps the types of what is passed on (Int32 stays Int32, Long stays Long) when an answer is rewritten. */
const EXACT: BSON.DeserializeOptions = { promoteLongs: false, promoteValues: false, promoteBuffers: false, bsonRegExp: true };

export interface SeenCommand {
  command: string;
  writeConcern: Document | undefined;
  readConcern: Document | undefined;
}

export interface MongoFaultProxy {
  port: number;
  /** `url` (the legacy server's) with the host and port of this proxy. */
  urlFor(url: string): string;
  /** Whether `commands` and `writes` are kept (each command decoded); on by default. */
  recording: boolean;
  commands: SeenCommand[];
  writes: SeenCommand[];
  failWriteConcern: boolean;
  /** Answers doctored so far. */
  doctored: number;
  close(): Promise<void>;
}

/** The BSON of the body (section kind 0) of an OP_MSG, or null when the message is something else. */
function bodyBytes(message: Buffer): Buffer | null {
  if (message.readInt32LE(12) !== OP_MSG) return null;
  let at = HEADER + 4;
  const end = message.length - (message.readUInt32LE(HEADER) & CHECKSUM_PRESENT ? 4 : 0);
  while (at < end) {
    const size = message.readInt32LE(at + 1);
    if (message[at] === 0) return message.subarray(at + 1, at + 1 + size);
    at += 1 + size;
  }
  return null;
}

function body(message: Buffer, options?: BSON.DeserializeOptions): Document | null {
  const bytes = bodyBytes(message);
  return bytes ? BSON.deserialize(bytes, options) : null;
}

/** A command's name, its body's first key (read without decoding the body), in lower case. */
function commandName(message: Buffer): string | null {
  const bytes = bodyBytes(message);
  if (!bytes || bytes.length < 6) return null;
  const end = bytes.indexOf(0, 5);
  return end < 0 ? null : bytes.toString('utf8', 5, end).toLowerCase();
}

/** An OP_MSG answering `responseTo` with `doc` as its only section (no checksum: it would not match any more). */
function opMsg(requestId: number, responseTo: number, doc: Document): Buffer {
  const bson = BSON.serialize(doc);
  const out = Buffer.alloc(HEADER + 4 + 1 + bson.length);
  out.writeInt32LE(out.length, 0);
  out.writeInt32LE(requestId, 4);
  out.writeInt32LE(responseTo, 8);
  out.writeInt32LE(OP_MSG, 12);
  out.writeUInt32LE(0, HEADER);
  out[HEADER + 4] = 0;
  out.set(bson, HEADER + 5);
  return out;
}

/** Calls `each` with every whole message that arrives on `socket`, in order; a stream that is not messages is cut. */
function messages(socket: net.Socket, each: (message: Buffer) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = pending.readInt32LE(0);
      if (length < HEADER) return void socket.destroy(new Error(`not a MongoDB message (length ${length})`));
      if (pending.length < length) return;
      each(pending.subarray(0, length));
      pending = pending.subarray(length);
    }
  });
}

/** Starts the proxy on a free port of 127.0.0.1, forwarding to `target` (host:port). */
export async function startMongoFaultProxy(target: { host: string; port: number }): Promise<MongoFaultProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    /** Request ids of write commands in flight on this connection. */
    const writesInFlight = new Set<number>();
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', closeBoth).on('close', closeBoth);
    upstream.on('error', closeBoth).on('close', closeBoth);
    messages(client, (message) => {
      const name = commandName(message);
      if (name && WRITE_COMMANDS.has(name)) writesInFlight.add(message.readInt32LE(4));
      const command = name && proxy.recording ? body(message) : null;
      if (name && command) {
        const seen = {
          command: name,
          writeConcern: command.writeConcern as Document | undefined,
          readConcern: command.readConcern as Document | undefined,
        };
        proxy.commands.push(seen);
        if (WRITE_COMMANDS.has(name)) proxy.writes.push(seen);
      }
      upstream.write(message);
    });
    messages(upstream, (message) => {
      const responseTo = message.readInt32LE(8);
      if (!writesInFlight.delete(responseTo) || !proxy.failWriteConcern) return void client.write(message);
      const answer = body(message, EXACT);
      if (!answer || Number(answer.ok?.valueOf()) !== 1 || answer.writeConcernError) return void client.write(message);
      proxy.doctored++;
      const writeConcernError = {
        code: 64,
        codeName: 'WriteConcernFailed',
        errmsg: 'waiting for replication timed out',
        errInfo: { wtimeout: true },
      };
      client.write(opMsg(message.readInt32LE(4), responseTo, { ...answer, writeConcernError }));
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const proxy: MongoFaultProxy = {
    port,
    urlFor: (url) =>
      url.replace(
        /^mongodb:\/\/([^@/]*@)?[^/?]+/,
        (_m, credentials: string | undefined) => `mongodb://${credentials ?? ''}127.0.0.1:${port}`,
      ),
    recording: true,
    commands: [],
    writes: [],
    failWriteConcern: false,
    doctored: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
