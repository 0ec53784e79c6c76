import { startTestApp, TestApp } from './support/app';
import { snapshotStores } from './support/stores';

describe('probe', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startTestApp(); await t.setPhase('shadow'); });
  afterAll(async () => t?.close());
  it('probes', async () => {
    const show = async (label: string, p: Promise<any>) => { try { const r = await p; console.log(label, r.status, JSON.stringify(r.body)?.slice(0, 300), r.headers.get('etag')); return r; } catch (e) { console.log(label, 'THREW', (e as Error).message, (e as any).cause?.message); } };
    await show('emptykey', t.request('POST', '/conversations', { body: { userId: 'u', metadata: { '': 1 } } }));
    await show('nestedarr', t.request('POST', '/conversations', { body: { userId: 'u', metadata: { a: [[1, 2]] } } }));
    await show('big', t.request('POST', '/conversations', { rawBody: JSON.stringify({ userId: 'u', title: 'x'.repeat(1024 * 1024) }), headers: { 'content-type': 'application/json' } }));
    await show('unauth-bad', t.request('POST', '/conversations', { rawBody: '{', token: null, headers: { 'content-type': 'application/json' } }));
    await show('proto', t.request('POST', '/conversations', { rawBody: '{"userId":"u","metadata":{"__proto__":{"x":1}}}', headers: { 'content-type': 'application/json' } }));
    await show('badutf8', t.request('POST', '/conversations', { rawBody: Buffer.from([0x7b, 0x22, 0x75, 0x73, 0x65, 0x72, 0x49, 0x64, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), headers: { 'content-type': 'application/json' } }));
    await show('textplain', t.request('POST', '/conversations', { rawBody: '{"userId":"u"}', headers: { 'content-type': 'text/plain' } }));
    await show('nobody', t.request('POST', '/conversations', {}));
    await show('nullbody', t.request('POST', '/conversations', { rawBody: 'null', headers: { 'content-type': 'application/json' } }));
    await show('number', t.request('POST', '/conversations', { rawBody: '42', headers: { 'content-type': 'application/json' } }));
    await show('string', t.request('POST', '/conversations', { rawBody: '"x"', headers: { 'content-type': 'application/json' } }));
    await show('list', t.request('GET', '/conversations?userId=u'));
    await show('404route', t.request('GET', '/nope'));
    await show('upperid', t.request('GET', '/conversations/ABCDEFABCDEFABCDEFABCDEF'));
    await show('docs', t.request('GET', '/docs-json', { token: null }));
    const c = await show('create', t.request('POST', '/conversations', { body: { userId: 'u', metadata: { a: 1.5, b: -0, big: 1e21 } } }));
    await show('ifnonematch', t.request('GET', `/conversations/${c.body.id}`, { headers: { 'if-none-match': '"1"' } }));
    await show('latin1', t.request('POST', '/conversations', { rawBody: '{"userId":"u"}', headers: { 'content-type': 'application/json; charset=latin1' } }));
    await show('gzip', t.request('POST', '/conversations', { rawBody: '{"userId":"u"}', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } }));
    console.log((await snapshotStores(t)).conversations);
  });
});
