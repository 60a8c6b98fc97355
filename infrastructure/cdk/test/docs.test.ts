/* docs/DEPLOYMENT.md keeps up with the code: sections, every context key, the timing contract. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { STAGE_DEFAULTS } from '../lib/config';
import * as T from '../lib/timing';
import { REPO_ROOT } from './helpers';

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
