/*
 * CloudFront in front of the ALB (context `cdn`, lib/cdn.ts; issue 14, "HTTP caching"): off by
 * default with the ALB open as before and one trusted proxy; on, the cached read behaviours, the
 * pass-through default, the ALB admitting CloudFront only, two trusted proxies, DNS, WAF, alarm.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import {
  CDN_CACHED_PATHS,
  CDN_ERROR_CODES,
  CDN_MAX_TTL_SECONDS,
  CDN_READ_FORWARDED_HEADERS,
  ORIGIN_VERIFY_HEADER,
} from '../../lib/cdn';
import { STAGE_DEFAULTS } from '../../lib/config';
import { BASE_CONTEXT, build, CERT_ARN, containerEnv, defaultTemplates, idByPath, only, resources, STAGE_NAMES } from '../helpers';

export const PREFIX_LIST_ID = 'pl-3b927c52';
/** Production with the CDN (and its default WAF), a hosted zone, and every alarm. */
export const CDN_CONTEXT: Record<string, string> = {
  ...BASE_CONTEXT,
  'production:cdn': 'true',
  'production:cloudFrontPrefixListId': PREFIX_LIST_ID,
  'production:hostedZoneId': 'Z0123456789ABCDEFGHIJ',
  'production:hostedZoneName': 'timewarp.example.com',
};

/* CloudFront's managed policies, by their fixed IDs. */
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER = '216adef6-5c7f-47e4-b989-5492eafa07d3';
const ALL_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'];

const off = defaultTemplates();
const onBuild = build(CDN_CONTEXT);
const on = Template.fromStack(onBuild.stages.production!);

const serveEnv = (tpl: Template, family: string) => {
  const task = Object.values(resources(tpl, 'AWS::ECS::TaskDefinition')).find((r) => r.Properties.Family.endsWith(family))!;
  return containerEnv(task.Properties.ContainerDefinitions[0]);
};
/** Every ingress rule of the ALB's security group, inline or a resource of its own. */
const albIngress = (tpl: Template) => {
  const albSg = idByPath(tpl, 'LoadBalancerSecurityGroup/Resource');
  const inline = ((resources(tpl, 'AWS::EC2::SecurityGroup') as any)[albSg].Properties.SecurityGroupIngress ?? []) as any[];
  const separate = Object.values(resources(tpl, 'AWS::EC2::SecurityGroupIngress'))
    .map((r) => r.Properties)
    .filter((r) => r.GroupId?.['Fn::GetAtt']?.[0] === albSg);
  return [...inline, ...separate];
};
const listenerPorts = (tpl: Template) =>
  Object.values(resources(tpl, 'AWS::ElasticLoadBalancingV2::Listener'))
    .map((l) => l.Properties.Port)
    .sort();
const apiDistribution = (tpl: Template) => {
  const hits = Object.entries(resources(tpl, 'AWS::CloudFront::Distribution')).filter(([, d]) => /API$/.test(d.Properties.DistributionConfig.Comment));
  assert.equal(hits.length, 1, 'one API distribution');
  return hits[0][1].Properties.DistributionConfig;
};

describe('CDN option off (the default of both stages)', () => {
  test('the default is off for staging and production', () => {
    assert.equal(STAGE_DEFAULTS.staging.cdn, false);
    assert.equal(STAGE_DEFAULTS.production.cdn, false);
  });

  for (const stage of STAGE_NAMES) {
    const tpl = off[stage];
    test(`${stage}: no distribution, no cache policy, no origin secret`, () => {
      tpl.resourceCountIs('AWS::CloudFront::Distribution', 0);
      tpl.resourceCountIs('AWS::CloudFront::CachePolicy', 0);
      assert.ok(!JSON.stringify(tpl.toJSON()).includes(ORIGIN_VERIFY_HEADER));
    });

    test(`${stage}: TIMEWARP_TRUSTED_PROXIES is 1 (the ALB) for serve and migrate`, () => {
      assert.equal(serveEnv(tpl, '-serve').TIMEWARP_TRUSTED_PROXIES, '1');
      assert.equal(serveEnv(tpl, '-migrate').TIMEWARP_TRUSTED_PROXIES, '1');
    });

    test(`${stage}: the ALB is open to the internet on 443 and 80, as before`, () => {
      assert.deepEqual(
        albIngress(tpl).map((r) => `${r.FromPort} ${r.CidrIp ?? r.SourcePrefixListId}`).sort(),
        ['443 0.0.0.0/0', '80 0.0.0.0/0'],
      );
      assert.deepEqual(listenerPorts(tpl), [443, 80]);
      const rule = only(tpl, 'AWS::ElasticLoadBalancingV2::ListenerRule').props;
      assert.deepEqual(rule.Conditions.map((c: any) => c.Field), ['host-header']);
    });
  }
});

describe('CDN option on (production here)', () => {
  const dist = apiDistribution(on);
  const behaviour = (path: string) => dist.CacheBehaviors.find((b: any) => b.PathPattern === path);
  const policy = only(on, 'AWS::CloudFront::CachePolicy');
  const orp = only(on, 'AWS::CloudFront::OriginRequestPolicy');
  const cacheKey = policy.props.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin;

  test('only the stage that asked gets it: staging has no distribution', () => {
    Template.fromStack(onBuild.stages.staging!).resourceCountIs('AWS::CloudFront::Distribution', 0);
  });

  test('the distribution serves the domain name with the us-east-1 certificate, TLS 1.2+, HTTP -> HTTPS', () => {
    assert.deepEqual(dist.Aliases, ['timewarp.example.com']);
    assert.deepEqual(dist.ViewerCertificate, { AcmCertificateArn: CERT_ARN, MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' });
    for (const b of [dist.DefaultCacheBehavior, ...dist.CacheBehaviors]) assert.equal(b.ViewerProtocolPolicy, 'redirect-to-https');
  });

  test('cached behaviours: /clips* and /calendar*, all methods allowed, GET and HEAD cached, compressed', () => {
    assert.deepEqual(dist.CacheBehaviors.map((b: any) => b.PathPattern).sort(), [...CDN_CACHED_PATHS].sort());
    assert.deepEqual([...CDN_CACHED_PATHS].sort(), ['/calendar*', '/clips*']);
    for (const path of CDN_CACHED_PATHS) {
      const b = behaviour(path);
      // POST /clips/{id}/reports lies under /clips*: it must reach the server, uncached.
      assert.deepEqual([...b.AllowedMethods].sort(), ALL_METHODS);
      assert.deepEqual([...b.CachedMethods].sort(), ['GET', 'HEAD']);
      assert.equal(b.Compress, true);
      assert.deepEqual(b.CachePolicyId, { Ref: policy.id });
      assert.deepEqual(b.OriginRequestPolicyId, { Ref: orp.id });
    }
  });

  test('cache key: path + every query string, no cookie, no header (so never Authorization)', () => {
    assert.deepEqual(cacheKey.QueryStringsConfig, { QueryStringBehavior: 'all' });
    assert.deepEqual(cacheKey.CookiesConfig, { CookieBehavior: 'none' });
    assert.deepEqual(cacheKey.HeadersConfig, { HeaderBehavior: 'none' });
    assert.ok(!/authorization/i.test(JSON.stringify(policy.props)), 'Authorization is nowhere in the cache policy');
    assert.equal(cacheKey.EnableAcceptEncodingGzip, true);
    assert.equal(cacheKey.EnableAcceptEncodingBrotli, true);
  });

  test(`TTLs follow the origin's Cache-Control: min 0, default 0, max ${CDN_MAX_TTL_SECONDS} s`, () => {
    const c = policy.props.CachePolicyConfig;
    assert.deepEqual([c.MinTTL, c.DefaultTTL, c.MaxTTL], [0, 0, 60]);
    assert.equal(CDN_MAX_TTL_SECONDS, 60);
  });

  test('the cached behaviours forward Host, Content-Type and X-Request-Id and the query, never Authorization or cookies', () => {
    const c = orp.props.OriginRequestPolicyConfig;
    assert.deepEqual(c.HeadersConfig, { HeaderBehavior: 'whitelist', Headers: [...CDN_READ_FORWARDED_HEADERS] });
    assert.deepEqual([...CDN_READ_FORWARDED_HEADERS], ['Host', 'Content-Type', 'X-Request-Id']);
    assert.deepEqual(c.QueryStringsConfig, { QueryStringBehavior: 'all' });
    assert.deepEqual(c.CookiesConfig, { CookieBehavior: 'none' });
  });

  test('everything else: CachingDisabled, every viewer header/query/cookie (Authorization reaches /admin), every method', () => {
    const d = dist.DefaultCacheBehavior;
    assert.equal(d.CachePolicyId, CACHING_DISABLED);
    assert.equal(d.OriginRequestPolicyId, ALL_VIEWER);
    assert.deepEqual([...d.AllowedMethods].sort(), ALL_METHODS);
    assert.equal(d.PathPattern, undefined);
  });

  test('CloudFront keeps no error answer (error caching TTL 0 for every code it allows)', () => {
    assert.deepEqual(
      dist.CustomErrorResponses.map((e: any) => [e.ErrorCode, e.ErrorCachingMinTTL, e.ResponseCode, e.ResponsePagePath]),
      CDN_ERROR_CODES.map((c) => [c, 0, undefined, undefined]),
    );
  });

  test('the origin is the ALB over HTTPS only (TLS 1.2), with the secret header from Secrets Manager', () => {
    assert.equal(dist.Origins.length, 1);
    const [o] = dist.Origins;
    assert.deepEqual(o.DomainName, { 'Fn::GetAtt': [only(on, 'AWS::ElasticLoadBalancingV2::LoadBalancer').id, 'DNSName'] });
    assert.equal(o.CustomOriginConfig.OriginProtocolPolicy, 'https-only');
    assert.deepEqual(o.CustomOriginConfig.OriginSSLProtocols, ['TLSv1.2']);
    assert.ok(o.CustomOriginConfig.OriginKeepaliveTimeout < 20, "CloudFront closes idle origin connections before the ALB's 20 s");
    const secret = idByPath(on, 'OriginVerifySecret/Resource');
    const value = { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secret }, ':SecretString:::}}']] };
    assert.deepEqual(o.OriginCustomHeaders, [{ HeaderName: ORIGIN_VERIFY_HEADER, HeaderValue: value }]);
    const generated = (resources(on, 'AWS::SecretsManager::Secret') as any)[secret].Properties.GenerateSecretString;
    assert.ok(generated.PasswordLength >= 32 && generated.ExcludePunctuation, 'a long value an ALB header condition accepts');
  });

  test('the ALB is not reachable around CloudFront: 443 from the origin-facing prefix list only, no port 80', () => {
    assert.deepEqual(albIngress(on).map((r) => [r.IpProtocol, r.FromPort, r.ToPort, r.SourcePrefixListId, r.CidrIp]), [['tcp', 443, 443, PREFIX_LIST_ID, undefined]]);
    assert.deepEqual(listenerPorts(on), [443]);
  });

  test('the API rule wants the Host and the secret header CloudFront sends; anything else gets the 400', () => {
    const rule = only(on, 'AWS::ElasticLoadBalancingV2::ListenerRule').props;
    const [o] = dist.Origins;
    assert.deepEqual(rule.Conditions, [
      { Field: 'host-header', HostHeaderConfig: { Values: ['timewarp.example.com'] } },
      { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: ORIGIN_VERIFY_HEADER, Values: [o.OriginCustomHeaders[0].HeaderValue] } },
    ]);
    const https = Object.values(resources(on, 'AWS::ElasticLoadBalancingV2::Listener'))[0].Properties;
    assert.equal(https.DefaultActions[0].Type, 'fixed-response');
    assert.equal(https.DefaultActions[0].FixedResponseConfig.StatusCode, '400');
  });

  test('TIMEWARP_TRUSTED_PROXIES is 2 (CloudFront + the ALB) for serve and migrate; ALLOWED_HOSTS unchanged', () => {
    for (const family of ['-serve', '-migrate']) {
      const env = serveEnv(on, family);
      assert.equal(env.TIMEWARP_TRUSTED_PROXIES, '2', family);
      assert.equal(env.ALLOWED_HOSTS, 'timewarp.example.com', family);
    }
  });

  test('the alias record points at the distribution, not the ALB', () => {
    const record = only(on, 'AWS::Route53::RecordSet').props;
    assert.equal(record.Name, 'timewarp.example.com.');
    assert.deepEqual(record.AliasTarget.DNSName, { 'Fn::GetAtt': [idByPath(on, 'Cdn/Distribution/Resource'), 'DomainName'] });
  });

  test('the WAF stays regional on the ALB; its rate rules count the viewer from X-Forwarded-For', () => {
    const acl = only(on, 'AWS::WAFv2::WebACL').props;
    assert.equal(acl.Scope, 'REGIONAL');
    only(on, 'AWS::WAFv2::WebACLAssociation');
    const rates = acl.Rules.filter((r: any) => r.Statement.RateBasedStatement).map((r: any) => r.Statement.RateBasedStatement);
    assert.equal(rates.length, 3);
    for (const r of rates) {
      assert.equal(r.AggregateKeyType, 'FORWARDED_IP');
      assert.deepEqual(r.ForwardedIPConfig, { HeaderName: 'X-Forwarded-For', FallbackBehavior: 'MATCH' });
    }
  });

  test('an edge 5xx-rate alarm, created only where CloudFront metrics are (us-east-1), outside the dashboard', () => {
    const alarms = Object.entries(resources(on, 'AWS::CloudWatch::Alarm') as any).filter(([, a]: any) => a.Properties.Namespace === 'AWS/CloudFront');
    assert.equal(alarms.length, 1);
    const [id, a] = alarms[0] as [string, any];
    assert.equal(a.Properties.AlarmName, 'timewarp-production-cdn-5xx-rate');
    assert.equal(a.Properties.MetricName, '5xxErrorRate');
    assert.deepEqual(a.Properties.Dimensions.find((d: any) => d.Name === 'Region'), { Name: 'Region', Value: 'Global' });
    assert.equal(a.Condition, 'InUsEast1');
    assert.deepEqual(on.toJSON().Conditions.InUsEast1, { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] });
    const dashboard = JSON.stringify(only(on, 'AWS::CloudWatch::Dashboard').props);
    assert.ok(!dashboard.includes(id), 'the dashboard never names an alarm that may not exist');
  });

  test('outputs: the distribution name to point DNS at, and its ID', () => {
    const outputs = on.toJSON().Outputs;
    assert.deepEqual(outputs.ApiDistributionDomainName.Value, { 'Fn::GetAtt': [idByPath(on, 'Cdn/Distribution/Resource'), 'DomainName'] });
    assert.ok(outputs.ApiDistributionId);
  });
});

describe('CDN option: configuration', () => {
  const prodOnly = { ...BASE_CONTEXT, stages: 'production', 'production:cdn': 'true' };

  test('needs the prefix list ID of the region, and checks its form', () => {
    assert.throws(() => build(prodOnly, false), /cdn needs -c production:cloudFrontPrefixListId=pl-/);
    assert.throws(() => build({ ...prodOnly, 'production:cloudFrontPrefixListId': 'sg-123' }, false), /cloudFrontPrefixListId/);
  });

  test('needs a us-east-1 certificate: certificateArn when it is there, else cdnCertificateArn', () => {
    const euCert = 'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
    const usCert = 'arn:aws:acm:us-east-1:123456789012:certificate/99999999-2222-3333-4444-555555555555';
    const ctx = { ...prodOnly, 'production:cloudFrontPrefixListId': PREFIX_LIST_ID, certificateArn: euCert };
    assert.throws(() => build(ctx, false), /cdn needs an ACM certificate in us-east-1.*eu-west-1.*cdnCertificateArn/);
    assert.throws(() => build({ ...ctx, 'production:cdnCertificateArn': euCert }, false), /us-east-1/);
    const t = Template.fromStack(build({ ...ctx, 'production:cdnCertificateArn': usCert }, false).stages.production!);
    assert.equal(apiDistribution(t).ViewerCertificate.AcmCertificateArn, usCert);
    assert.deepEqual(
      Object.values(resources(t, 'AWS::ElasticLoadBalancingV2::Listener'))[0].Properties.Certificates,
      [{ CertificateArn: euCert }],
      'the ALB keeps its regional certificate',
    );
  });

  test('with the static-site option too (staging): both distributions, the static one unchanged', () => {
    const t = Template.fromStack(
      build(
        { ...BASE_CONTEXT, stages: 'staging', 'staging:cdn': 'true', 'staging:cloudFrontPrefixListId': PREFIX_LIST_ID, 'staging:staticSite': 'true' },
        false,
      ).stages.staging!,
    );
    t.resourceCountIs('AWS::CloudFront::Distribution', 2);
    const staticDist = Object.values(resources(t, 'AWS::CloudFront::Distribution')).find((d) => /static files$/.test(d.Properties.DistributionConfig.Comment))!;
    assert.ok(staticDist.Properties.DistributionConfig.Origins[0].OriginAccessControlId);
    assert.equal(apiDistribution(t).Aliases[0], 'staging.timewarp.example.com');
  });

  test('with blue/green: the default action forwards (ECS needs it), the prefix list still gates the ALB', () => {
    const t = Template.fromStack(
      build(
        { ...BASE_CONTEXT, stages: 'staging', 'staging:cdn': 'true', 'staging:cloudFrontPrefixListId': PREFIX_LIST_ID, 'staging:blueGreen': 'true' },
        false,
      ).stages.staging!,
    );
    assert.deepEqual(albIngress(t).map((r) => r.SourcePrefixListId), [PREFIX_LIST_ID]);
    const rule = only(t, 'AWS::ElasticLoadBalancingV2::ListenerRule').props;
    assert.deepEqual(rule.Conditions.map((c: any) => c.Field), ['host-header', 'http-header']);
  });
});
