/*
 * Stage configuration: the only place where staging and production differ.
 *
 * Every value can be overridden from the CDK context, most specific first:
 *   -c production:desiredCount=3   (one stage only)
 *   -c desiredCount=3              (every stage)
 *   the defaults below             (sizes and protections per stage)
 * Context given with -c arrives as strings, so numbers and booleans are parsed
 * and checked here; a bad value stops synthesis with a message naming the key.
 */
import type { Node } from 'constructs';

export const STAGES = ['staging', 'production'] as const;
export type StageName = (typeof STAGES)[number];

/** Name of the ECR repository shared by both stages (an image is built once, promoted). */
export const REPOSITORY_NAME = 'timewarp';

/*
 * Profiles: a set of defaults a stage starts from (context "profile", per stage or global).
 *   standard  the sizes below: two AZs, NAT gateways, tasks in private subnets
 *   small     an MVP at the lowest price that keeps every API guarantee but Multi-AZ: one task of
 *             the smallest Fargate size in one AZ, db.t4g.micro, no NAT gateway (tasks in public
 *             subnets with a public IP, reachable only from the ALB's security group)
 */
export const PROFILES = ['standard', 'small'] as const;
export type ProfileName = (typeof PROFILES)[number];

export const ALARM_SETS = ['full', 'essential'] as const;
export type AlarmSet = (typeof ALARM_SETS)[number];

export interface StageConfig {
  readonly stage: StageName;
  readonly profile: ProfileName;
  /** Value of the metric dimension "Service" and TIMEWARP_SERVICE_NAME: timewarp-STAGE. */
  readonly serviceName: string;
  /** Public name of the API, e.g. api.example.com: ALB listener rule, ALLOWED_HOSTS, optional DNS record. */
  readonly domainName: string;
  /** ACM certificate (same region as the stack) covering domainName. */
  readonly certificateArn: string;
  /**
   * Image tag in the shared ECR repository (tags are immutable: the pipeline pushes the git
   * commit). The pipeline registers newer task definition revisions itself; pass the tag that is
   * running when deploying infrastructure changes (scripts/deploy.sh current-tag STAGE).
   */
  readonly imageTag: string;
  readonly desiredCount: number;
  readonly minCount: number;
  readonly maxCount: number;
  /** RDS instance class without the "db." prefix, e.g. t4g.micro. */
  readonly dbInstanceClass: string;
  readonly dbAllocatedStorageGiB: number;
  readonly dbMaxAllocatedStorageGiB: number;
  readonly multiAz: boolean;
  readonly deletionProtection: boolean;
  readonly backupRetentionDays: number;
  /**
   * 0, 1 or 2. With 0 there are no private subnets with egress: tasks run in the public subnets
   * with a public IP (the security group still admits only the ALB).
   */
  readonly natGateways: number;
  /** Run the tasks (and the single-AZ database) in one availability zone only. */
  readonly singleAz: boolean;
  /** Fargate task size of the serve and migrate tasks (CPU units, MiB). */
  readonly taskCpu: number;
  readonly taskMemoryMiB: number;
  /** Alternating-users rotation of the service's database password (Secrets Manager). */
  readonly rotation: boolean;
  readonly rotationDays: number;
  /**
   * The first create of the stack: deletion protection (RDS, ALB) off, so that a failed create
   * can roll back completely and simply be run again, and no task (desired 0), so that nothing
   * serves before the migration ran. Deploy once more without it afterwards.
   */
  readonly firstDeploy: boolean;
  /**
   * Run the service on Fargate Spot: a task can be reclaimed with 2 minutes' notice, and ECS then
   * starts a replacement (a single-task stage has a short gap). Non-production stages, and the
   * small profile (an MVP that chose the price over that gap), only.
   */
  readonly fargateSpot: boolean;
  /**
   * AWS WAF on the ALB (lib/waf.ts): per-IP rate limits on the POST routes across all tasks,
   * AWS managed rule groups, a log of blocked and counted requests. About $11.70/month.
   */
  readonly waf: boolean;
  /** ECS built-in blue/green deployment instead of the default rolling deployment. */
  readonly blueGreen: boolean;
  /** S3 bucket + CloudFront distribution for static files. */
  readonly staticSite: boolean;
  /**
   * CloudFront in front of the ALB (lib/cdn.ts): public reads cached at the edge for the
   * origin's max-age, the rest passed through. The domain name then points at the distribution,
   * the ALB admits only CloudFront, and TIMEWARP_TRUSTED_PROXIES counts its hop (2).
   */
  readonly cdn: boolean;
  /** ACM certificate in us-east-1 for the distribution's alias (cdn only): certificateArn when that is in us-east-1. */
  readonly cdnCertificateArn?: string;
  /** ID (pl-...) of com.amazonaws.global.cloudfront.origin-facing in the stage's region (cdn only; it differs per region). */
  readonly cloudFrontPrefixListId?: string;
  /** Route 53 alias record for domainName, when both are given. */
  readonly hostedZoneId?: string;
  readonly hostedZoneName?: string;
  /** E-mail address subscribed to the alarm topic, when given. */
  readonly alarmEmail?: string;
  readonly logRetentionDays: number;
  /**
   * A customer-managed KMS key ($1/month) for the CloudWatch log groups and the alarm topic.
   * Without it there is no key at all: the log groups keep CloudWatch's own encryption and the
   * topic is unencrypted (CloudWatch alarms cannot publish to a topic under the AWS-managed SNS key).
   */
  readonly encryptLogs: boolean;
  /** ECS Container Insights on the cluster (about $2-4/month): RunningTaskCount, DesiredTaskCount. */
  readonly containerInsights: boolean;
  /**
   * The service user's database password and SECRET_KEY as SSM Parameter Store SecureStrings
   * (standard parameters are free) instead of Secrets Manager secrets ($0.40 each); the master
   * stays in Secrets Manager. Excludes rotation (which needs the service user's secret there).
   */
  readonly parameterStoreSecrets: boolean;
  /**
   * Which alarms: "full" (every alarm of docs/DEPLOYMENT.md, "Monitoring"), or "essential"
   * (ten alarm metrics, CloudWatch's always-free allowance: the ones the small profile keeps).
   */
  readonly alarms: AlarmSet;
  /** Target of the request-count autoscaling policy, requests per task per minute. */
  readonly requestsPerTargetPerMinute: number;
}

type Defaults = Omit<
  StageConfig,
  'stage' | 'profile' | 'serviceName' | 'firstDeploy' | 'domainName' | 'certificateArn' | 'imageTag' | 'hostedZoneId' | 'hostedZoneName' | 'alarmEmail' | 'cdnCertificateArn' | 'cloudFrontPrefixListId'
>;

/**
 * TIMEWARP_TRUSTED_PROXIES: the X-Forwarded-For / X-Forwarded-Proto hops the server trusts,
 * counted from the right. The ALB appends the address that connected to it; behind CloudFront
 * that is an edge server, and the viewer's address is the entry CloudFront appended before it.
 */
export function trustedProxies(cfg: Pick<StageConfig, 'cdn'>): number {
  return cfg.cdn ? 2 : 1;
}

/* Sizes and protections: the only differences between the two stages. */
export const STAGE_DEFAULTS: Record<StageName, Defaults> = {
  staging: {
    desiredCount: 1,
    minCount: 1,
    maxCount: 2,
    dbInstanceClass: 't4g.micro',
    dbAllocatedStorageGiB: 20,
    dbMaxAllocatedStorageGiB: 50,
    multiAz: false,
    deletionProtection: false,
    backupRetentionDays: 7,
    natGateways: 1,
    singleAz: false,
    taskCpu: 256,
    taskMemoryMiB: 512,
    rotation: true,
    rotationDays: 30,
    fargateSpot: true,
    waf: false,
    blueGreen: false,
    staticSite: false,
    cdn: false,
    logRetentionDays: 30,
    encryptLogs: true,
    containerInsights: true,
    parameterStoreSecrets: false,
    alarms: 'full',
    requestsPerTargetPerMinute: 3000,
  },
  production: {
    desiredCount: 2,
    minCount: 2,
    maxCount: 6,
    dbInstanceClass: 't4g.small',
    dbAllocatedStorageGiB: 20,
    dbMaxAllocatedStorageGiB: 100,
    multiAz: true,
    deletionProtection: true,
    backupRetentionDays: 14,
    natGateways: 2,
    singleAz: false,
    taskCpu: 256,
    taskMemoryMiB: 512,
    rotation: true,
    rotationDays: 30,
    fargateSpot: false,
    waf: true,
    blueGreen: false,
    staticSite: false,
    // Off until the reads need it (docs/SCALING.md, "CDN"): switching it on moves the domain's DNS
    // to the distribution and needs a us-east-1 certificate, a step a deploy must not take unasked.
    cdn: false,
    logRetentionDays: 90,
    encryptLogs: true,
    containerInsights: true,
    parameterStoreSecrets: false,
    alarms: 'full',
    requestsPerTargetPerMinute: 3000,
  },
};

/*
 * What the small profile changes, for either stage. 256 CPU / 512 MiB is Fargate's smallest
 * size (the server needs about 15 MB). One task and no autoscaling: a task carries about
 * 500 req/s (docs/SCALING.md), far above an MVP's traffic, so a second one would add no capacity
 * that matters, while its four target-tracking alarms would take CloudWatch's free ten; the
 * deploy still starts the new task before it stops the old one. -c STAGE:maxCount=2 brings the
 * CPU and request scaling back (+4 alarm metrics, $0.40/month).
 * Fargate Spot (about 70% off): an interrupted task is replaced by ECS, with a gap of a minute or
 * two for a single task (docs/DEPLOYMENT.md). No WAF: its fixed $11/month is a quarter of the
 * budget; the server's own per-task limits guard the writes (with one task they are exact).
 * Rotation is off by default: its Lambda needs a Secrets Manager endpoint when there is no NAT
 * gateway ($7.30/month for one AZ); -c STAGE:rotation=true adds it (and puts the service user's
 * credentials back in Secrets Manager, which rotation needs).
 * Free where the standard profile pays: the service password and SECRET_KEY in Parameter Store,
 * AWS-managed encryption instead of the $1 key, no Container Insights, and the ten alarm metrics
 * that matter most (docs/DEPLOYMENT.md, "The small profile").
 */
export const SMALL_PROFILE: Partial<Defaults> = {
  desiredCount: 1,
  minCount: 1,
  maxCount: 1,
  dbInstanceClass: 't4g.micro',
  dbMaxAllocatedStorageGiB: 50,
  multiAz: false,
  natGateways: 0,
  singleAz: true,
  taskCpu: 256,
  taskMemoryMiB: 512,
  fargateSpot: true,
  waf: false,
  rotation: false,
  encryptLogs: false,
  containerInsights: false,
  parameterStoreSecrets: true,
  alarms: 'essential',
};

/* Fargate's valid CPU / memory pairs for the sizes this app could use. */
const FARGATE_SIZES: Record<number, number[]> = {
  256: [512, 1024, 2048],
  512: [1024, 2048, 3072, 4096],
  1024: [2048, 3072, 4096, 5120, 6144, 7168, 8192],
};

class ConfigError extends Error {}

function raw(node: Node, stage: StageName, key: string): unknown {
  const specific = node.tryGetContext(`${stage}:${key}`);
  if (specific !== undefined) return specific;
  return node.tryGetContext(key);
}

function str(node: Node, stage: StageName, key: string): string | undefined {
  const v = raw(node, stage, key);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ConfigError(`context ${stage}:${key} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function int(node: Node, stage: StageName, key: string, dflt: number, min: number, max: number): number {
  const v = raw(node, stage, key);
  if (v === undefined) return dflt;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`context ${stage}:${key} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return n;
}

function bool(node: Node, stage: StageName, key: string, dflt: boolean): boolean {
  const v = raw(node, stage, key);
  if (v === undefined) return dflt;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new ConfigError(`context ${stage}:${key} must be true or false, got ${JSON.stringify(v)}`);
}

const PREFIX_LIST_ID = /^pl-[0-9a-f]{8,17}$/;
const CERT_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const INSTANCE_CLASS = /^[a-z][a-z0-9]*\.[a-z0-9]+$/;

/* The only retention periods CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

function retention(days: number, stage: StageName): number {
  if (!LOG_RETENTION_DAYS.includes(days)) {
    throw new ConfigError(`context ${stage}:logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(', ')}, got ${days}`);
  }
  return days;
}

/**
 * Which stages this synthesis builds: context "stages", comma-separated; both when absent,
 * none with "none" (to deploy TimeWarp-shared before any stage has its settings).
 */
export function selectedStages(node: Node): StageName[] {
  const v = node.tryGetContext('stages');
  if (v === undefined) return [...STAGES];
  if (v === 'none') return [];
  const names = String(v).split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new ConfigError('context stages is empty: name stages (staging,production) or "none"');
  for (const n of names) {
    if (!(STAGES as readonly string[]).includes(n)) {
      throw new ConfigError(`context stages: unknown stage "${n}" (known: ${STAGES.join(', ')}, or none)`);
    }
  }
  return names as StageName[];
}

export function resolveStageConfig(node: Node, stage: StageName): StageConfig {
  const profile = (str(node, stage, 'profile') ?? 'standard') as ProfileName;
  if (!(PROFILES as readonly string[]).includes(profile)) {
    throw new ConfigError(`context ${stage}:profile must be one of ${PROFILES.join(', ')}, got ${JSON.stringify(profile)}`);
  }
  const d: Defaults = { ...STAGE_DEFAULTS[stage], ...(profile === 'small' ? SMALL_PROFILE : {}) };
  const domainName = str(node, stage, 'domainName');
  const certificateArn = str(node, stage, 'certificateArn');
  if (!domainName || !HOSTNAME.test(domainName)) {
    throw new ConfigError(
      `context ${stage}:domainName is required and must be a lower-case host name ` +
        `(e.g. -c ${stage}:domainName=api.example.com), got ${JSON.stringify(domainName)}`,
    );
  }
  if (!certificateArn || !CERT_ARN.test(certificateArn)) {
    throw new ConfigError(
      `context ${stage}:certificateArn is required and must be an ACM certificate ARN ` +
        `(e.g. -c ${stage}:certificateArn=arn:aws:acm:REGION:ACCOUNT:certificate/ID), got ${JSON.stringify(certificateArn)}`,
    );
  }
  const imageTag = str(node, stage, 'imageTag');
  if (!imageTag || !IMAGE_TAG.test(imageTag)) {
    throw new ConfigError(
      `context ${stage}:imageTag is required and must be an image tag in the ECR repository ` +
        `(e.g. -c imageTag=$(git rev-parse HEAD)), got ${JSON.stringify(imageTag)}`,
    );
  }
  const dbInstanceClass = (str(node, stage, 'dbInstanceClass') ?? d.dbInstanceClass).replace(/^db\./, '');
  if (!INSTANCE_CLASS.test(dbInstanceClass)) {
    throw new ConfigError(`context ${stage}:dbInstanceClass must look like t4g.micro, got ${JSON.stringify(dbInstanceClass)}`);
  }

  // The first create runs no task: nothing may serve before the migrate task has run
  // (docs/DEPLOYMENT.md, "First-time setup"); the next deploy starts the tasks.
  const firstDeploy = bool(node, stage, 'firstDeploy', false);
  const minCount = firstDeploy ? 0 : int(node, stage, 'minCount', d.minCount, 1, 100);
  const maxCount = int(node, stage, 'maxCount', d.maxCount, 1, 100);
  const desiredCount = firstDeploy ? 0 : int(node, stage, 'desiredCount', d.desiredCount, 1, 100);
  if (!(minCount <= desiredCount && desiredCount <= maxCount)) {
    throw new ConfigError(`${stage}: need minCount <= desiredCount <= maxCount, got ${minCount} / ${desiredCount} / ${maxCount}`);
  }
  const dbAllocatedStorageGiB = int(node, stage, 'dbAllocatedStorageGiB', d.dbAllocatedStorageGiB, 20, 65536);
  const dbMaxAllocatedStorageGiB = int(node, stage, 'dbMaxAllocatedStorageGiB', d.dbMaxAllocatedStorageGiB, 20, 65536);
  if (dbMaxAllocatedStorageGiB < dbAllocatedStorageGiB) {
    throw new ConfigError(`${stage}: dbMaxAllocatedStorageGiB must be >= dbAllocatedStorageGiB`);
  }
  const natGateways = int(node, stage, 'natGateways', d.natGateways, 0, 2);
  const singleAz = bool(node, stage, 'singleAz', d.singleAz);
  const multiAz = bool(node, stage, 'multiAz', d.multiAz);
  if (singleAz && multiAz) throw new ConfigError(`${stage}: singleAz and multiAz exclude each other`);
  if (singleAz && natGateways > 1) throw new ConfigError(`${stage}: singleAz needs at most one NAT gateway`);
  const taskCpu = int(node, stage, 'taskCpu', d.taskCpu, 256, 1024);
  const taskMemoryMiB = int(node, stage, 'taskMemoryMiB', d.taskMemoryMiB, 512, 8192);
  if (!FARGATE_SIZES[taskCpu]?.includes(taskMemoryMiB)) {
    throw new ConfigError(`${stage}: taskCpu ${taskCpu} / taskMemoryMiB ${taskMemoryMiB} is not a Fargate size`);
  }
  const fargateSpot = bool(node, stage, 'fargateSpot', d.fargateSpot);
  if (stage === 'production' && fargateSpot && profile !== 'small') {
    throw new ConfigError('production: fargateSpot is for non-production stages and the small profile only');
  }

  // Rotation needs the service user's credentials in Secrets Manager: asking for rotation moves
  // them there by default; asking for both explicitly is an error.
  const rotation = bool(node, stage, 'rotation', d.rotation);
  const parameterStoreSecrets = bool(node, stage, 'parameterStoreSecrets', d.parameterStoreSecrets && !rotation);
  if (rotation && parameterStoreSecrets) {
    throw new ConfigError(`${stage}: rotation needs the service user's secret in Secrets Manager: set parameterStoreSecrets=false or rotation=false`);
  }
  const alarms = (str(node, stage, 'alarms') ?? d.alarms) as AlarmSet;
  if (!(ALARM_SETS as readonly string[]).includes(alarms)) {
    throw new ConfigError(`context ${stage}:alarms must be one of ${ALARM_SETS.join(', ')}, got ${JSON.stringify(alarms)}`);
  }

  // CloudFront takes certificates from us-east-1 only; the ALB's certificate serves when it is there.
  const cdn = bool(node, stage, 'cdn', d.cdn);
  let cdnCertificateArn: string | undefined;
  let cloudFrontPrefixListId: string | undefined;
  if (cdn) {
    cdnCertificateArn = str(node, stage, 'cdnCertificateArn') ?? (certificateArn.split(':')[3] === 'us-east-1' ? certificateArn : undefined);
    if (!cdnCertificateArn || !CERT_ARN.test(cdnCertificateArn) || cdnCertificateArn.split(':')[3] !== 'us-east-1') {
      throw new ConfigError(
        `${stage}: cdn needs an ACM certificate in us-east-1 for ${domainName}: certificateArn is in ` +
          `${certificateArn.split(':')[3]}, so give -c ${stage}:cdnCertificateArn=arn:aws:acm:us-east-1:ACCOUNT:certificate/ID` +
          (cdnCertificateArn ? ` (got ${JSON.stringify(cdnCertificateArn)})` : ''),
      );
    }
    cloudFrontPrefixListId = str(node, stage, 'cloudFrontPrefixListId');
    if (!cloudFrontPrefixListId || !PREFIX_LIST_ID.test(cloudFrontPrefixListId)) {
      throw new ConfigError(
        `${stage}: cdn needs -c ${stage}:cloudFrontPrefixListId=pl-..., the ID of com.amazonaws.global.cloudfront.origin-facing ` +
          `in the stage's region (aws ec2 describe-managed-prefix-lists), got ${JSON.stringify(cloudFrontPrefixListId)}`,
      );
    }
  }

  const hostedZoneId = str(node, stage, 'hostedZoneId');
  const hostedZoneName = str(node, stage, 'hostedZoneName');
  if ((hostedZoneId === undefined) !== (hostedZoneName === undefined)) {
    throw new ConfigError(`${stage}: give both hostedZoneId and hostedZoneName, or neither`);
  }
  if (hostedZoneName !== undefined && !(domainName === hostedZoneName || domainName.endsWith(`.${hostedZoneName}`))) {
    throw new ConfigError(`${stage}: domainName ${domainName} is not inside hosted zone ${hostedZoneName}`);
  }

  return {
    stage,
    profile,
    serviceName: `timewarp-${stage}`,
    domainName,
    certificateArn,
    imageTag,
    desiredCount,
    minCount,
    maxCount,
    dbInstanceClass,
    dbAllocatedStorageGiB,
    dbMaxAllocatedStorageGiB,
    multiAz,
    deletionProtection: bool(node, stage, 'deletionProtection', d.deletionProtection),
    firstDeploy,
    // RDS allows up to 35 days; fewer than 7 is below what the project promises.
    backupRetentionDays: int(node, stage, 'backupRetentionDays', d.backupRetentionDays, 7, 35),
    natGateways,
    singleAz,
    taskCpu,
    taskMemoryMiB,
    rotation,
    rotationDays: int(node, stage, 'rotationDays', d.rotationDays, 1, 365),
    fargateSpot,
    waf: bool(node, stage, 'waf', d.waf),
    blueGreen: bool(node, stage, 'blueGreen', d.blueGreen),
    staticSite: bool(node, stage, 'staticSite', d.staticSite),
    cdn,
    cdnCertificateArn,
    cloudFrontPrefixListId,
    hostedZoneId,
    hostedZoneName,
    alarmEmail: str(node, stage, 'alarmEmail'),
    logRetentionDays: retention(int(node, stage, 'logRetentionDays', d.logRetentionDays, 1, 3653), stage),
    encryptLogs: bool(node, stage, 'encryptLogs', d.encryptLogs),
    containerInsights: bool(node, stage, 'containerInsights', d.containerInsights),
    parameterStoreSecrets,
    alarms,
    requestsPerTargetPerMinute: int(node, stage, 'requestsPerTargetPerMinute', d.requestsPerTargetPerMinute, 10, 1000000),
  };
}
