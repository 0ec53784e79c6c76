import { redactSecrets, redactUrl } from './redact';

describe('redactSecrets', () => {
  it('hides the password of every connection string, whatever the scheme, and keeps the rest', () => {
    const line = JSON.stringify({
      msg: 'connect failed: postgres://lms:pg-pass-7c1d@127.0.0.1:5432/db and redis://:r3d1s-pw@10.0.0.1:6379/0',
      url: 'mongodb+srv://app:m0ng0%2Fpw@cluster.example/legacy?retryWrites=true',
    });
    const out = redactSecrets(line);
    expect(out).not.toMatch(/pg-pass-7c1d|r3d1s-pw|m0ng0/);
    expect(out).toContain('postgres://lms:***@127.0.0.1:5432/db');
    expect(out).toContain('redis://:***@10.0.0.1:6379/0');
    expect(out).toContain('mongodb+srv://app:***@cluster.example/legacy?retryWrites=true');
    expect(JSON.parse(out)).toBeTruthy();
  });

  it('hides credentials after an Authorization scheme', () => {
    const out = redactSecrets(JSON.stringify({ header: 'Bearer app-token-0123456789abcdef', basic: 'Basic dXNlcjpzZWNyZXQ=' }));
    expect(out).not.toMatch(/app-token-0123456789abcdef|dXNlcjpzZWNyZXQ=/);
    expect(JSON.parse(out)).toEqual({ header: 'Bearer [Redacted]', basic: 'Basic [Redacted]' });
  });

  it('hides query parameters named like secrets and keeps the others', () => {
    const url = '/conversations?userId=u1&token=t0k3n&access_token=a1&X-Amz-Signature=abc&X-Amz-Credential=AKIA%2F1&api_key=k&limit=5';
    const out = redactSecrets(JSON.stringify({ url }));
    expect(JSON.parse(out).url).toBe(
      '/conversations?userId=u1&token=[Redacted]&access_token=[Redacted]&X-Amz-Signature=[Redacted]&X-Amz-Credential=[Redacted]&api_key=[Redacted]&limit=5',
    );
  });

  it('leaves a line without secrets alone', () => {
    const line = JSON.stringify({ level: 'info', msg: 'serving queues', url: 'http://127.0.0.1:9/health', at: 'a@b' });
    expect(redactSecrets(line)).toBe(line);
  });
});

describe('redactUrl', () => {
  it('names the server, never the password', () => {
    expect(redactUrl('postgres://user:secret@db:5432/app')).toBe('postgres://user:***@db:5432/app');
    expect(redactUrl('not a url')).toBe('<unparsable url>');
  });
});
