/*
 * scripts/deploy.sh and scripts/migrate.sh, run for real against stand-ins for
 * aws, docker and curl that record every call and answer like the AWS CLI
 * would: the order of the steps, what is registered and run, and that a failed
 * step stops the rollout.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO_ROOT } from './helpers';

const DEPLOY = join(REPO_ROOT, 'scripts', 'deploy.sh');
const MIGRATE = join(REPO_ROOT, 'scripts', 'migrate.sh');
const TAG = 'f00dfeed';

const work = mkdtempSync(join(tmpdir(), 'timewarp-scripts-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

/* Stand-ins for aws, docker and curl (tests/scripts/bin, shared with tests/scripts/run.sh): FAKE_SCENARIO picks the failure to
   simulate, FAKE_DIR receives the call log and the registered task definitions. */
const FAKE_BIN = join(REPO_ROOT, 'tests', 'scripts', 'bin');

let runs = 0;
function run(script: string, args: string[], scenario = 'ok', opts: { imageExists?: boolean } = {}) {
  const dir = join(work, `run${runs++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'calls'), '');
  if (opts.imageExists) writeFileSync(join(dir, 'image-exists'), '');
  const r = spawnSync('bash', [script, ...args], {
    env: { PATH: `${FAKE_BIN}:${process.env.PATH}`, HOME: dir, FAKE_DIR: dir, FAKE_SCENARIO: scenario },
    encoding: 'utf8',
    timeout: 240_000, // generous: a loaded 2-core machine forks slowly
  });
  const calls = readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n').filter(Boolean);
  const spec = (family: string) => JSON.parse(readFileSync(join(dir, `spec-${family}`), 'utf8'));
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls, spec };
}

/** Index of the first call matching re, at or after `from`; fails when absent. */
function position(calls: string[], re: RegExp, from = 0): number {
  const i = calls.findIndex((c, k) => k >= from && re.test(c));
  assert.ok(i >= 0, `a call matching ${re} (after #${from}) in:\n${calls.join('\n')}`);
  return i;
}

describe('deploy scripts', () => {
  test('both are bash with `set -euo pipefail` and pass shellcheck', (t) => {
    for (const f of [DEPLOY, MIGRATE]) {
      const text = readFileSync(f, 'utf8');
      assert.match(text, /^#!\/usr\/bin\/env bash\n/);
      assert.match(text, /^set -euo pipefail$/m);
      assert.equal(spawnSync('bash', ['-n', f]).status, 0, `${f} parses`);
    }
    const check = spawnSync('shellcheck', ['--version']);
    if (check.error) {
      t.skip('shellcheck is not installed');
      return;
    }
    const r = spawnSync('shellcheck', ['-x', DEPLOY, MIGRATE], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout);
  });

  test('--help prints the usage and exits 0; bad arguments print it and exit 2', () => {
    for (const script of [DEPLOY, MIGRATE]) {
      const help = run(script, ['--help']);
      assert.equal(help.status, 0);
      assert.match(help.stdout, /^Usage: scripts\/(deploy|migrate)\.sh/);
      for (const bad of [[], ['qa'], ['--bogus', 'staging']]) {
        const r = run(script, bad);
        assert.equal(r.status, 2, `${script} ${bad.join(' ')}`);
        assert.match(r.stderr, /error: .*\n\nUsage:/);
        assert.deepEqual(r.calls, [], 'nothing is called before the arguments are valid');
      }
    }
    assert.equal(run(DEPLOY, ['--tag', TAG, 'staging', 'deploy-everything']).status, 2);
    assert.equal(run(MIGRATE, ['--to', 'latest', 'staging']).status, 2);
  });

  test('a full deploy runs build, push, migrate, update, wait, verify in that order', () => {
    const r = run(DEPLOY, ['--tag', TAG, 'staging']);
    assert.equal(r.status, 0, r.stderr);
    const c = r.calls;
    const build = position(c, /^docker build --platform linux\/amd64 -f .*\/docker\/Dockerfile -t timewarp:f00dfeed /);
    const login = position(c, /^docker login --username AWS --password-stdin 123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com$/, build);
    const push = position(c, /^docker push 123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com\/timewarp:f00dfeed$/, login);
    const regMigrate = position(c, /^aws ecs register-task-definition .*"family":"timewarp-staging-migrate"/, push);
    const runTask = position(c, /^aws ecs run-task --cluster timewarp-staging --task-definition arn:.*timewarp-staging-migrate:8 /, regMigrate);
    const stopped = position(c, /^aws ecs wait tasks-stopped /, runTask);
    const described = position(c, /^aws ecs describe-tasks /, stopped);
    const regServe = position(c, /^aws ecs register-task-definition .*"family":"timewarp-staging-serve"/, described);
    const update = position(c, /^aws ecs update-service --cluster timewarp-staging --service TimeWarp-staging-Service-ABC --task-definition arn:.*timewarp-staging-serve:8 /, regServe);
    const stable = position(c, /^aws ecs wait services-stable --cluster timewarp-staging --services TimeWarp-staging-Service-ABC$/, update);
    position(c, /^curl .*https:\/\/staging\.example\.com\/health\/$/, stable);
    assert.match(r.stderr, /done: build push migrate update wait verify/);
  });

  test('new revisions change only the image; the rest is copied from the current one', () => {
    const r = run(DEPLOY, ['--tag', TAG, 'production', 'migrate', 'update']);
    assert.equal(r.status, 0, r.stderr);
    for (const family of ['timewarp-production-serve', 'timewarp-production-migrate']) {
      const spec = r.spec(family);
      assert.equal(spec.containerDefinitions[0].image, `123456789012.dkr.ecr.us-east-1.amazonaws.com/timewarp:${TAG}`);
      assert.equal(spec.containerDefinitions[0].user, '10001:10001');
      assert.equal(spec.containerDefinitions[0].stopTimeout, 45);
      assert.equal(spec.containerDefinitions[0].secrets[0].name, 'SECRET_KEY');
      assert.equal(spec.cpu, '256');
      assert.equal(spec.executionRoleArn, 'arn:aws:iam::123456789012:role/TimeWarp-exec');
      for (const readOnly of ['taskDefinitionArn', 'revision', 'status', 'registeredAt', 'requiresAttributes', 'compatibilities']) {
        assert.equal(spec[readOnly], undefined, `${readOnly} is not sent back`);
      }
    }
    const reg = r.calls.find((x) => /register-task-definition/.test(x))!;
    assert.match(reg, /--tags \[\{"key":"project","value":"timewarp"\}\]/);
  });

  test('the migrate task runs in the private subnets with the service security group and no public IP', () => {
    const r = run(MIGRATE, ['staging']);
    assert.equal(r.status, 0, r.stderr);
    const call = r.calls.find((x) => x.startsWith('aws ecs run-task'))!;
    assert.match(call, /--task-definition timewarp-staging-migrate /, 'without --tag: the latest revision as it is');
    assert.match(call, /awsvpcConfiguration=\{subnets=\[subnet-a,subnet-b\],securityGroups=\[sg-123\],assignPublicIp=DISABLED\}/);
    assert.doesNotMatch(call, /--overrides/);
    assert.ok(!r.calls.some((x) => /register-task-definition/.test(x)));
  });

  test('rollback of the schema: --to N overrides the command with ["migrate", "--to", "N"]', () => {
    const r = run(MIGRATE, ['--tag', TAG, '--to', '3', 'production']);
    assert.equal(r.status, 0, r.stderr);
    const call = r.calls.find((x) => x.startsWith('aws ecs run-task'))!;
    assert.match(call, /--overrides \{"containerOverrides":\[\{"name":"timewarp","command":\["migrate","--to","3"\]\}\]\}/);
  });

  test('a failed migration stops the rollout: logs shown, service untouched, non-zero exit', () => {
    const r = run(DEPLOY, ['--tag', TAG, 'staging'], 'migrate-fails');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /migration failed: exit code 3/);
    assert.match(r.stderr, /migration 0004 failed/);
    assert.ok(!r.calls.some((x) => /update-service|serve/.test(x) && /register|update/.test(x)), 'no serve revision, no service update');
    assert.ok(!r.calls.some((x) => x.startsWith('curl')));
  });

  test('a deployment the circuit breaker rolled back fails the wait step', () => {
    const r = run(DEPLOY, ['--tag', TAG, 'staging', 'wait'], 'rolled-back');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /runs .*timewarp:oldtag, not tag f00dfeed: the deployment was rolled back/);
  });

  test('an unhealthy /health/ fails the verify step', () => {
    const r = run(DEPLOY, ['--tag', TAG, 'staging', 'verify'], 'unhealthy');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /health\/ did not answer 200/);
  });

  test('the first image can be pushed before any stage stack exists', () => {
    const r = run(DEPLOY, ['--tag', TAG, 'staging', 'build', 'push']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.calls.some((x) => x.includes('cloudformation')), 'no stack outputs read');
    position(r.calls, /^docker push /);
  });

  test('push skips an image already in ECR (tags are immutable); exists fails without it', () => {
    const pushed = run(DEPLOY, ['--tag', TAG, 'production', 'push'], 'ok', { imageExists: true });
    assert.equal(pushed.status, 0, pushed.stderr);
    assert.ok(!pushed.calls.some((x) => x.startsWith('docker push')));
    assert.equal(run(DEPLOY, ['--tag', TAG, 'production', 'exists'], 'ok', { imageExists: true }).status, 0);
    const missing = run(DEPLOY, ['--tag', TAG, 'production', 'exists']);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /is not in ECR/);
  });

  test('current-tag prints the running tag; rollback goes to the previous serve revision', () => {
    const tag = run(DEPLOY, ['current-tag', 'staging'], 'rolled-back');
    assert.equal(tag.status, 0, tag.stderr);
    assert.equal(tag.stdout, 'oldtag\n');
    // rollback: the running revision 7 and revision 6 both run oldtag; 5 is the previous release
    // (the full rule is tested in tests/scripts/run.sh)
    const back = run(DEPLOY, ['rollback', 'staging'], 'rolled-back');
    assert.notEqual(back.status, 0, 'no older revision runs another image: nothing to roll back to');
    assert.match(back.stderr, /runs another image than/);
  });
});
