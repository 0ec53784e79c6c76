import { bareZoneId, formatTarget, isDnsName, parseTarget, Route53Target } from './route53-target';

describe('parseTarget', () => {
  it('reads an alias target, with and without :evaluate', () => {
    expect(parseTarget('alias:Z35SXDOTRQ7X7K:old-lb-1.us-east-1.elb.amazonaws.com:evaluate', 'A')).toEqual({
      kind: 'alias',
      hostedZoneId: 'Z35SXDOTRQ7X7K',
      dnsName: 'old-lb-1.us-east-1.elb.amazonaws.com',
      evaluateTargetHealth: true,
    });
    expect(parseTarget('alias:/hostedzone/Z2FDTNDATAQYW2:d111111abcdef8.cloudfront.net.', 'AAAA')).toEqual({
      kind: 'alias',
      hostedZoneId: 'Z2FDTNDATAQYW2',
      dnsName: 'd111111abcdef8.cloudfront.net.',
      evaluateTargetHealth: false,
    });
  });

  it('reads comma-separated values checked against the record type', () => {
    expect(parseTarget(' 10.0.0.1, 10.0.0.2 ', 'A')).toEqual({ kind: 'values', values: ['10.0.0.1', '10.0.0.2'] });
    expect(parseTarget('2001:db8::1', 'AAAA')).toEqual({ kind: 'values', values: ['2001:db8::1'] });
    expect(parseTarget('legacy.example.net', 'CNAME')).toEqual({ kind: 'values', values: ['legacy.example.net'] });
  });

  it.each([
    ['10.0.0.300', 'A', 'value "10.0.0.300" is not an IPv4 address (record type A)'],
    ['10.0.0.1', 'AAAA', 'value "10.0.0.1" is not an IPv6 address (record type AAAA)'],
    ['a.example.net,b.example.net', 'CNAME', 'a CNAME record takes exactly one value'],
    ['bad_host-.example', 'CNAME', 'value "bad_host-.example" is not a DNS name (record type CNAME)'],
    [' , ', 'A', 'has no values (write comma-separated record values or alias:<hostedZoneId>:<dnsName>[:evaluate])'],
    ['10.0.0.1,10.0.0.1', 'A', 'lists a value twice'],
    ['alias:Z1', 'A', 'must be alias:<hostedZoneId>:<dnsName>[:evaluate]'],
    ['alias:Z1:lb.example.com:yes', 'A', 'unknown alias flag "yes" (must be alias:<hostedZoneId>:<dnsName>[:evaluate])'],
    ['alias:Z-1:lb.example.com', 'A', 'alias hosted zone id "Z-1" is not a Route 53 zone id (letters and digits, e.g. Z35SXDOTRQ7X7K)'],
    ['alias:Z1:lb..example.com', 'A', 'alias DNS name "lb..example.com" is not a valid DNS name'],
  ] as const)('refuses %s for %s with a clear reason', (text, type, problem) => {
    expect(parseTarget(text, type)).toBe(problem);
  });

  it('formats what it parses', () => {
    const targets: Route53Target[] = [
      { kind: 'values', values: ['10.0.0.1', '10.0.0.2'] },
      { kind: 'alias', hostedZoneId: 'Z35SXDOTRQ7X7K', dnsName: 'lb.example.com', evaluateTargetHealth: true },
      { kind: 'alias', hostedZoneId: 'Z35SXDOTRQ7X7K', dnsName: 'lb.example.com', evaluateTargetHealth: false },
    ];
    for (const target of targets) expect(parseTarget(formatTarget(target), 'A')).toEqual(target);
  });
});

describe('DNS names and zone ids', () => {
  it('accepts names with or without the trailing dot and a leading wildcard', () => {
    expect(isDnsName('api.example.com')).toBe(true);
    expect(isDnsName('api.example.com.')).toBe(true);
    expect(isDnsName('*.example.com')).toBe(true);
    expect(isDnsName('api.*.example.com')).toBe(false);
    expect(isDnsName('')).toBe(false);
    expect(isDnsName(`${'a'.repeat(64)}.com`)).toBe(false);
  });

  it('strips the /hostedzone/ prefix', () => {
    expect(bareZoneId('/hostedzone/Z123')).toBe('Z123');
    expect(bareZoneId('hostedzone/Z123')).toBe('Z123');
    expect(bareZoneId('Z123')).toBe('Z123');
  });
});
