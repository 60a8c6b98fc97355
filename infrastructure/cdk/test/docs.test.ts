/* docs/DEPLOYMENT.md keeps up with the code: sections, every context key, the timing contract. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  CDN_CACHED_PATHS,
  CDN_MAX_TTL_SECONDS,
  CDN_READ_FORWARDED_HEADERS,
  CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST,
  ORIGIN_MAX_AGE_SECONDS,
  ORIGIN_STALE_WHILE_REVALIDATE_SECONDS,
  ORIGIN_VERIFY_HEADER,
} from '../lib/cdn';
import { SMALL_PROFILE, STAGE_DEFAULTS, trustedProxies } from '../lib/config';
import { APP_RATE_LIMITS_PER_MINUTE, WAF_RATE_WINDOW_SECONDS, wafRateLimit } from '../lib/waf';
import * as T from '../lib/timing';
import { Template } from 'aws-cdk-lib/assertions';
import { alarmMetrics, BASE_CONTEXT, build, ESSENTIAL_ALARMS, REPO_ROOT } from './helpers';

const doc = readFileSync(join(REPO_ROOT, 'docs', 'DEPLOYMENT.md'), 'utf8');

describe('docs/DEPLOYMENT.md', () => {
  test('has the sections a newcomer needs', () => {
    for (const heading of ['## Architecture', '## First-time setup', '## Everyday deploys', '## Rollback', '## Monthly cost estimate']) {
      assert.ok(doc.includes(`\n${heading}\n`), heading);
    }
    assert.match(doc, /```\n[\s\S]*Internet[\s\S]*Load Balancer[\s\S]*Fargate[\s\S]*PostgreSQL[\s\S]*```/, 'an ASCII architecture diagram');
    for (const needed of ['cdk bootstrap', 'cdk deploy', 'request-certificate', 'scripts/deploy.sh rollback', '--to', 'containerOverrides', 'us-east-1']) {
      assert.ok(doc.includes(needed), needed);
    }
  });

  test('documents every context key of lib/config.ts', () => {
    const keys = [...Object.keys(STAGE_DEFAULTS.production), 'domainName', 'certificateArn', 'imageTag', 'hostedZoneId', 'hostedZoneName', 'alarmEmail', 'stages', 'githubRepository'];
    for (const key of keys) assert.ok(doc.includes(`\`${key}\``), `context key ${key}`);
  });

  test('states the timing contract with the values the code uses', () => {
    const rows: [RegExp, number][] = [
      [/ALB idle timeout \| (\d+) s/, T.ALB_IDLE_TIMEOUT_SECONDS],
      [/`TIMEWARP_IDLE_TIMEOUT` \| (\d+) s/, T.SERVER_IDLE_TIMEOUT_SECONDS],
      [/`TIMEWARP_DRAIN_SECONDS` \| (\d+) s/, T.DRAIN_SECONDS],
      [/`TIMEWARP_SHUTDOWN_TIMEOUT` \| (\d+) s/, T.SHUTDOWN_TIMEOUT_SECONDS],
      [/ECS `stopTimeout` \| (\d+) s/, T.STOP_TIMEOUT_SECONDS],
      [/deregistration delay \| (\d+) s/, T.DEREGISTRATION_DELAY_SECONDS],
    ];
    for (const [re, value] of rows) assert.equal(Number(doc.match(re)?.[1]), value, String(re));
  });

  test('the cost estimate says what it assumes and that it is an estimate', () => {
    const section = doc.slice(doc.indexOf('## Monthly cost estimate'));
    assert.match(section, /\*\*Estimates\*\*/);
    assert.match(section, /us-east-1/);
    assert.match(section, /on-demand/);
    assert.match(section, /\*\*stage total\*\*/);
  });
});

describe('docs/DEPLOYMENT.md: issue 15 and issue 10', () => {
  test('first-time steps in an order that works: create without tasks, migrate, start tasks, DNS, then verify', () => {
    const setup = doc.slice(doc.indexOf('## First-time setup'), doc.indexOf('## Everyday deploys'));
    const at = (needle: string) => {
      const i = setup.indexOf(needle);
      assert.ok(i >= 0, needle);
      return i;
    };
    const order = [
      at('create-open-id-connect-provider'),
      at('npx cdk deploy TimeWarp-shared'),
      at('staging build'),
      at('scripts/test-image.sh'),
      at('staging push'),
      at('-c staging:firstDeploy=true'),
      at('scripts/migrate.sh staging'),
      at('npx cdk deploy TimeWarp-staging -c stages=staging -c imageTag="$TAG"\n'),
      at('**DNS.**'),
      at('staging verify'),
      at('**Production**'),
      at('oidc/customization/sub'),
    ];
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
    for (const rule of ['AWS_DEPLOY_ROLE_ARN_STAGING', 'AWS_DEPLOY_ROLE_ARN_PRODUCTION', 'required reviewers', 'Deployment branches']) assert.ok(setup.includes(rule), rule);
  });

  test('the health-check reasoning names the paths the CDK wires', () => {
    const section = doc.slice(doc.indexOf('### Health checks and a database failover'), doc.indexOf('## Parameters'));
    assert.ok(section.includes(`\`GET ${T.HEALTH_CHECK_PATH}\``));
    assert.ok(section.includes(`\`GET ${T.DEEP_HEALTH_PATH}\``));
    assert.match(section, /5 minutes/);
    assert.match(section, /hung process/);
    assert.ok(section.includes(`for ${T.DATABASE_UNREACHABLE_ALARM_MINUTES} minutes`));
  });

  test('the rotation runbook says what is deployed', () => {
    const section = doc.slice(doc.indexOf('## Secrets and password rotation'), doc.indexOf('## Monitoring'));
    for (const needed of ['SecretsManagerRDSPostgreSQLRotationMultiUser', 'RotationSucceeded', '--force-new-deployment', 'timewarp_app_clone', 'RotateImmediatelyOnUpdate: false', 'ServiceDatabaseSecretArn']) {
      assert.ok(section.includes(needed), needed);
    }
    assert.doesNotMatch(section, /No rotation function is deployed|not rotated automatically \(see/);
  });

  test("the plan's figures stand beside ours, and the small profile's line items add up to its total", () => {
    const section = doc.slice(doc.indexOf("### Beside the deployment plan's figures"), doc.indexOf('## cdk-nag acknowledgements'));
    for (const figure of ['$90–120', '$160–230', '$15–30', '$15–20', '$16', '$32', '$5–10', '$5', '$1', '$81']) assert.ok(section.includes(figure), figure);
    const items = section.slice(section.indexOf('**`small`, line items**'));
    const paragraph = items.slice(0, items.indexOf('\n\n'));
    const total = Number(paragraph.match(/\*\*≈ \$(\d+\.\d\d)\*\*/)![1]);
    const parts = [...paragraph.slice(0, paragraph.indexOf('**≈')).matchAll(/\$(\d+\.\d\d)/g)].map((m) => Number(m[1]));
    assert.ok(parts.length >= 10);
    assert.equal(Math.round(parts.reduce((a, b) => a + b, 0) * 100) / 100, total);
    // The $45 target (issue 15), met: the floor every ALB -> Fargate -> RDS stage without NAT pays
    // (line items above), plus what the profile keeps, is the total.
    const cents = (x: number) => Math.round(x * 100);
    assert.ok(total <= 45, `small total $${total} is within $45`);
    assert.doesNotMatch(section, /\$45 target is not met/);
    const floorText = section.slice(section.indexOf('**The $45 target is met'));
    const floor = Number(floorText.match(/\*\*floor \$(\d+\.\d\d)\*\*/)![1]);
    const floorParts = [...floorText.slice(0, floorText.indexOf('**floor')).matchAll(/\$(\d+\.\d\d)/g)].map((m) => Number(m[1]));
    assert.equal(cents(floorParts.reduce((a, b) => a + b, 0)), cents(floor), 'the floor adds up');
    for (const p of floorParts) assert.ok(parts.includes(p), `floor item $${p} is a line item`);
    const kept = Number(floorText.match(/keeps \(\$(\d+\.\d\d)\)/)![1]);
    assert.equal(cents(floor) + cents(kept), cents(total), 'floor + what the profile keeps = the total');
    assert.match(section, /\| \*\*total\*\* \|.*\| \*\*≈ \$(\d+\.\d\d)\*\* \|$/m);
    assert.equal(Number(section.match(/\| \*\*total\*\* \|.*\| \*\*≈ \$(\d+\.\d\d)\*\* \|$/m)![1]), total, 'the table says the same total');
    // The assumptions are stated, and the items priced at $0 are the choices lib/config.ts makes.
    for (const needed of ['1 request a second', 'per account', '5 GB']) assert.ok(section.includes(needed), needed);
    assert.match(paragraph, /Fargate Spot \$\d/);
    assert.match(paragraph, /Secrets Manager \(1, the master\) \$0\.40/);
    assert.match(paragraph, /alarms \(10 alarm metrics, free tier\) \$0\.00/);
    assert.match(paragraph, /Container Insights \(off\) \$0\.00/);
    assert.match(paragraph, /KMS \(AWS-managed keys only\) \$0\.00/);
    assert.deepEqual(
      [SMALL_PROFILE.fargateSpot, SMALL_PROFILE.waf, SMALL_PROFILE.encryptLogs, SMALL_PROFILE.containerInsights, SMALL_PROFILE.parameterStoreSecrets, SMALL_PROFILE.alarms, SMALL_PROFILE.maxCount],
      [true, false, false, false, true, 'essential', 1],
    );
    // 10 alarm metrics is what the small template really creates, and each kept alarm is named.
    const small = Template.fromStack(build({ ...BASE_CONTEXT, profile: 'small' }, false).stages.production!);
    assert.equal(alarmMetrics(small), 10);
    small.resourceCountIs('AWS::SecretsManager::Secret', 1);
    small.resourceCountIs('AWS::KMS::Key', 0);
    const profile = doc.slice(doc.indexOf('### The `small` profile'), doc.indexOf('### AWS WAF'));
    for (const a of ESSENTIAL_ALARMS) assert.ok(profile.includes(`\`${a}\``), a);
    assert.ok(profile.includes('10 alarm metrics'));
    assert.ok(profile.includes('≈ $' + total.toFixed(2)), 'the profile section quotes the total');
  });

  test('the WAF: its cost is in both cost tables, its rate arithmetic matches lib/waf.ts', () => {
    const cost = doc.slice(doc.indexOf('## Monthly cost estimate'), doc.indexOf('## cdk-nag acknowledgements'));
    assert.match(cost, /\| AWS WAF \(production; staging with `waf=true`\) \|.*\$5\/web ACL.*\| \$0 \(off\) \| ≈ \$11\.70/);
    assert.match(cost, /\| AWS WAF \| not in the plan \| ≈ \$11\.70 \| \$0 \(off by default\) \|/);
    const waf = doc.slice(doc.indexOf('### AWS WAF'), doc.indexOf('### The timing contract'));
    for (const [kind, n] of Object.entries(APP_RATE_LIMITS_PER_MINUTE)) {
      assert.ok(waf.includes(`\`rate-${kind}\``), kind);
      assert.ok(waf.includes(`**${wafRateLimit(n)} per ${WAF_RATE_WINDOW_SECONDS / 60} minutes**`), `${kind}: ${wafRateLimit(n)}`);
    }
    for (const needed of ['SizeRestrictions_BODY', 'aws-waf-logs-', 'redacted', 'Retry-After: 300', 'AWSManagedRulesAmazonIpReputationList', 'AWSManagedRulesKnownBadInputsRuleSet', 'AWSManagedRulesCommonRuleSet']) {
      assert.ok(waf.includes(needed), needed);
    }
  });

  test('docs/SCALING.md: per-task capacity from PERFORMANCE.md, then 10x, 100x, 1000x with numbers', () => {
    const scaling = readFileSync(join(REPO_ROOT, 'docs', 'SCALING.md'), 'utf8');
    const perf = readFileSync(join(REPO_ROOT, 'docs', 'PERFORMANCE.md'), 'utf8');
    for (const figure of ['6,041', '6,953', '1,484', '12.8 MB']) {
      assert.ok(scaling.includes(figure), figure);
      assert.ok(perf.includes(figure), `${figure} is what PERFORMANCE.md measured`);
    }
    for (const heading of ['## Per task', '## 10×', '## 100×', '## 1000×']) assert.ok(scaling.includes(heading), heading);
    for (const topic of ['maxCount', 'RDS Proxy', 'read replicas', 'CDN', 'max_connections']) assert.ok(scaling.includes(topic), topic);
    assert.ok(scaling.includes(`\`requestsPerTargetPerMinute\` = ${STAGE_DEFAULTS.production.requestsPerTargetPerMinute.toLocaleString('en-US')}`));
    assert.ok(scaling.includes(`production \`maxCount\` is **${STAGE_DEFAULTS.production.maxCount}**`));
  });
});

describe('docs: CloudFront in front of the API (issue 14, HTTP caching)', () => {
  const scaling = readFileSync(join(REPO_ROOT, 'docs', 'SCALING.md'), 'utf8');
  const section = doc.slice(doc.indexOf('### CloudFront in front of the API (`cdn`)'), doc.indexOf('## Parameters'));
  const cdn = scaling.slice(scaling.indexOf('## CDN (CloudFront in front of the ALB, `cdn`)'), scaling.indexOf('## What does not break'));

  test('DEPLOYMENT.md states the behaviours, the gate around the ALB, the trusted hops and the WAF decision the code makes', () => {
    assert.ok(section.length > 1000 && cdn.length > 1000, 'both sections exist');
    assert.deepEqual([STAGE_DEFAULTS.staging.cdn, STAGE_DEFAULTS.production.cdn], [false, false]);
    assert.ok(section.includes('Off by default in both stages'));
    for (const path of CDN_CACHED_PATHS) assert.ok(section.includes(`\`${path}\``), path);
    for (const header of CDN_READ_FORWARDED_HEADERS) assert.ok(section.includes(`\`${header}\``), header);
    assert.ok(section.includes(`max ${CDN_MAX_TTL_SECONDS} s`));
    for (const needed of ['**all query strings**', 'never `Authorization`', '`CachingDisabled`', '`AllViewer`', 'us-east-1', '`cdnCertificateArn`', '`cloudFrontPrefixListId`', 'FORWARDED_IP', 'No CLOUDFRONT-scope web ACL is added', 'ALLOWED_HOSTS']) {
      assert.ok(section.includes(needed), needed);
    }
    assert.ok(section.includes(`\`${CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST}\``));
    assert.ok(section.includes(`**\`${ORIGIN_VERIFY_HEADER}\`**`));
    assert.ok(section.includes(`**\`TIMEWARP_TRUSTED_PROXIES=${trustedProxies({ cdn: true })}\`**`));
    assert.ok(section.includes(`(and \`${trustedProxies({ cdn: false })}\`, the ALB alone, without`));
  });

  test('SCALING.md: what is cached, for how long, the worked example and the staleness, with the numbers the code and server use', () => {
    assert.ok(cdn.includes(`max-age=${ORIGIN_MAX_AGE_SECONDS},\n  stale-while-revalidate=${ORIGIN_STALE_WHILE_REVALIDATE_SECONDS}`) || cdn.includes(`max-age=${ORIGIN_MAX_AGE_SECONDS}, stale-while-revalidate=${ORIGIN_STALE_WHILE_REVALIDATE_SECONDS}`));
    assert.ok(cdn.includes(`**fresh for ${ORIGIN_MAX_AGE_SECONDS} s**`));
    assert.ok(cdn.includes(`**${ORIGIN_STALE_WHILE_REVALIDATE_SECONDS} s more**`));
    assert.ok(cdn.includes(`**${CDN_MAX_TTL_SECONDS} s** maximum TTL`));
    assert.ok(cdn.includes(`once per ${ORIGIN_MAX_AGE_SECONDS} s\nper edge location`) || cdn.includes(`once per ${ORIGIN_MAX_AGE_SECONDS} s per edge location`));
    const total = ORIGIN_MAX_AGE_SECONDS + ORIGIN_STALE_WHILE_REVALIDATE_SECONDS;
    assert.ok(cdn.includes(`**${ORIGIN_MAX_AGE_SECONDS} s + ${ORIGIN_STALE_WHILE_REVALIDATE_SECONDS} s = ${total} s**`));
    assert.ok(cdn.includes('the origin itself is\nexact') || cdn.includes('the origin itself is exact'));
    // The worked example's arithmetic: edges / max-age, and URLs x edges / max-age.
    const one = cdn.match(/at\nmost (\d+) \/ (\d+) = \*\*(\d+) requests a second\*\*|at most (\d+) \/ (\d+) = \*\*(\d+) requests a second\*\*/)!;
    const [edges, age, result] = (one[1] ? one.slice(1, 4) : one.slice(4, 7)).map(Number);
    assert.equal(age, ORIGIN_MAX_AGE_SECONDS);
    assert.equal(edges / age, result);
    const many = cdn.match(/([\d,]+) × (\d+) \/ (\d+) = \*\*([\d,]+) reads\/s\*\*/)!;
    const [urls, edges2, age2, result2] = many.slice(1, 5).map((x) => Number(x.replace(/,/g, '')));
    assert.equal(age2, ORIGIN_MAX_AGE_SECONDS);
    assert.equal((urls * edges2) / age2, result2);
  });

  test('SCALING.md: the cost at the small profile and at scale adds up', () => {
    assert.ok(cdn.includes('10 million requests'));
    const small = Number(doc.match(/\| \*\*total\*\* \|.*\| \*\*≈ \$(\d+\.\d\d)\*\* \|$/m)![1]);
    const m = cdn.match(/≈ \$(\d+\.\d\d) instead of ≈ \$(\d+\.\d\d)/)!;
    assert.equal(Number(m[2]), small, 'the small total DEPLOYMENT.md states');
    assert.equal(Math.round((small + 0.4) * 100), Math.round(Number(m[1]) * 100), 'plus the $0.40 secret');
    // $0.0100 per 10,000 requests, 30.42 days a month.
    const monthly = (perSecond: number) => ((perSecond * 730 * 3600) / 10000) * 0.01;
    const at = (re: RegExp) => Number(cdn.match(re)![1].replace(/,/g, ''));
    const oneX = at(/\*\*≈ \$([\d,]+)\/month\*\*/);
    assert.ok(Math.abs(oneX - monthly(500)) / monthly(500) < 0.05, `${oneX} vs ${monthly(500)}`);
    const hundredX = at(/would be ≈ \$([\d,]+) at list price/);
    assert.ok(Math.abs(hundredX - monthly(50000)) / monthly(50000) < 0.05, `${hundredX} vs ${monthly(50000)}`);
  });
});
