/*
 * Shared test fixtures: build the app exactly as `cdk synth` does (same code,
 * same feature flags from cdk.json) with example context, and small helpers to
 * read the synthesized templates.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, type TimeWarpApp } from '../lib/app';

export const ROOT = join(__dirname, '..');
export const REPO_ROOT = join(ROOT, '..', '..');

/** Feature flags and settings from cdk.json, as the CLI passes them to the app. */
export const CDK_JSON = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8'));

export const CERT_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';

/** The minimum a deployment must give: names, certificate, image. */
export const BASE_CONTEXT: Record<string, string> = {
  imageTag: '0123456789abcdef0123456789abcdef01234567',
  certificateArn: CERT_ARN,
  'staging:domainName': 'staging.timewarp.example.com',
  'production:domainName': 'timewarp.example.com',
};

/** Every optional feature switched on, on staging (the production ones stay default). */
export const ALL_OPTIONS_CONTEXT: Record<string, string> = {
  ...BASE_CONTEXT,
  githubRepository: 'example-org/timewarp',
  alarmEmail: 'oncall@example.com',
  'staging:blueGreen': 'true',
  'staging:staticSite': 'true',
  'staging:hostedZoneId': 'Z0123456789ABCDEFGHIJ',
  'staging:hostedZoneName': 'timewarp.example.com',
  'production:hostedZoneId': 'Z0123456789ABCDEFGHIJ',
  'production:hostedZoneName': 'timewarp.example.com',
};

/* Every synthesis writes a cloud assembly; keep them all in one folder removed at exit. */
const OUT_ROOT = mkdtempSync(join(tmpdir(), 'timewarp-cdk-test-'));
process.on('exit', () => rmSync(OUT_ROOT, { recursive: true, force: true }));
let builds = 0;

export function build(context: Record<string, unknown> = BASE_CONTEXT, nag = true): TimeWarpApp {
  return buildApp({
    outdir: join(OUT_ROOT, String(builds++)),
    // Path metadata lets tests find resources by construct path, as the CLI does.
    context: { ...CDK_JSON.context, 'aws:cdk:enable-path-metadata': true, ...context },
    nag,
  });
}

export interface Templates {
  shared: Template;
  staging: Template;
  production: Template;
}

export function templates(context: Record<string, unknown> = BASE_CONTEXT): Templates {
  const built = build(context);
  return {
    shared: Template.fromStack(built.shared),
    staging: Template.fromStack(built.stages.staging!),
    production: Template.fromStack(built.stages.production!),
  };
}

let cachedDefault: Templates | undefined;
/** Default synthesis (both stages), built once per test file. */
export function defaultTemplates(): Templates {
  cachedDefault ??= templates();
  return cachedDefault;
}

let cachedAllOptions: Templates | undefined;
export function allOptionTemplates(): Templates {
  cachedAllOptions ??= templates(ALL_OPTIONS_CONTEXT);
  return cachedAllOptions;
}

type Resources = Record<string, { Type: string; Properties?: any; DependsOn?: string[]; DeletionPolicy?: string }>;

export function resources(t: Template, type: string): Resources {
  return t.findResources(type) as Resources;
}

/** The single resource of a type (fails when there are none or several). */
export function only(t: Template, type: string): { id: string; props: any } {
  const found = Object.entries(resources(t, type));
  if (found.length !== 1) throw new Error(`expected exactly one ${type}, found ${found.length}`);
  return { id: found[0][0], props: found[0][1].Properties ?? {} };
}

/** Logical id of the resource whose construct path ends with `suffix`. */
export function idByPath(t: Template, suffix: string): string {
  const all = t.toJSON().Resources as Record<string, { Metadata?: Record<string, string> }>;
  const hits = Object.entries(all).filter(([, r]) => (r.Metadata?.['aws:cdk:path'] ?? '').endsWith(suffix));
  if (hits.length !== 1) throw new Error(`expected one resource at */${suffix}, found ${hits.length}`);
  return hits[0][0];
}

export function attributes(list: { Key: string; Value: unknown }[]): Record<string, unknown> {
  return Object.fromEntries(list.map((a) => [a.Key, a.Value]));
}

export function containerEnv(container: any): Record<string, unknown> {
  return Object.fromEntries((container.Environment ?? []).map((e: any) => [e.Name, e.Value]));
}

export const STAGE_NAMES = ['staging', 'production'] as const;

/** The alarms the small profile keeps (docs/DEPLOYMENT.md, "The small profile"). */
export const ESSENTIAL_ALARMS = [
  'database-errors',
  'database-unreachable',
  'db-cpu-high',
  'db-free-storage-low',
  'deploy-5xx-rate',
  'deploy-latency-p99-high',
  'healthy-hosts-below-desired',
  'service-cpu-high',
];

/**
 * Alarm metrics as CloudWatch bills them: one per metric an alarm reads (a math expression counts
 * each metric it uses), plus the two alarms each target-tracking scaling policy creates.
 */
export function alarmMetrics(tpl: Template): number {
  const own = Object.values(resources(tpl, 'AWS::CloudWatch::Alarm'))
    .map((a) => (a.Properties.Metrics ? a.Properties.Metrics.filter((m: any) => m.MetricStat).length : 1))
    .reduce((x, y) => x + y, 0);
  const tracking = Object.values(resources(tpl, 'AWS::ApplicationAutoScaling::ScalingPolicy')).filter(
    (p) => p.Properties.PolicyType === 'TargetTrackingScaling',
  ).length;
  return own + 2 * tracking;
}
