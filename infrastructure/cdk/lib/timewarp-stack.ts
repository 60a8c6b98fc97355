/*
 * One stage of Time Warp: Internet -> ALB (HTTPS) -> ECS Fargate -> RDS PostgreSQL.
 *
 * Staging and production are two instances of this stack built from
 * lib/config.ts; they differ only in sizes and protections. Everything is
 * environment-agnostic (no lookups), so `cdk synth` works offline.
 * Every cdk-nag finding that is not fixed is acknowledged next to the
 * resource it concerns, with the reason.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Aws,
  CfnCondition,
  CfnMapping,
  CfnOutput,
  Duration,
  Fn,
  RemovalPolicy,
  Size,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { FactName, RegionInfo } from 'aws-cdk-lib/region-info';
import type { Construct, IConstruct } from 'constructs';
import { ApiCdn, ORIGIN_VERIFY_HEADER } from './cdn';
import { REPOSITORY_NAME, type StageConfig, trustedProxies } from './config';
import * as T from './timing';
import { GeneratedParameters } from './generated-parameters';
import { Waf } from './waf';

export interface TimeWarpStackProps extends StackProps {
  readonly config: StageConfig;
}

/** Namespace of the server's own metrics (CloudWatch embedded metric format lines in its log). */
export const APP_NAMESPACE = 'TimeWarp';

/** Name of the container in both task definitions (used by command overrides). */
export const CONTAINER_NAME = 'timewarp';
const DB_NAME = 'timewarp';
/** The RDS master user: owns the schema; only the migrate task and the rotation function use it. */
const DB_USER = 'timewarp';
/**
 * The service's own, limited database user (no DDL): its credentials are the second secret,
 * ServiceDatabaseSecret, rotated with alternating users (timewarp_app <-> timewarp_app_clone).
 * The migrate task creates the role and grants it (it gets TIMEWARP_DB_SERVICE_ROLE and
 * TIMEWARP_DB_SERVICE_PASSWORD, the names src/config.c reads).
 * With parameterStoreSecrets (the small profile) the user is fixed, its password an SSM
 * SecureString, and it is not rotated.
 */
export const SERVICE_DB_USER = 'timewarp_app';

function ack(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-${id}`, reason });
}

export class TimeWarpStack extends Stack {
  constructor(scope: Construct, id: string, props: TimeWarpStackProps) {
    super(scope, id, props);
    const cfg = props.config;
    const stage = cfg.stage;
    const isProduction = stage === 'production';
    const name = `timewarp-${stage}`;

    /* ---------------------------------------------------------------- keys, logs, alarms topic */

    // One customer-managed key per stage for the log groups and the alarm topic ($1/month), or
    // (encryptLogs=false, the small profile) none: CloudWatch Logs' own encryption, and an
    // unencrypted topic, since alarms cannot publish to one under the AWS-managed SNS key.
    const key = cfg.encryptLogs
      ? new kms.Key(this, 'Key', {
          description: `Time Warp ${stage}: CloudWatch Logs and alarm topic`,
          enableKeyRotation: true,
          // Kept when the stack goes (logs stay readable), but not after a failed first create:
          // RetainExceptOnCreate lets that create roll back completely and be run again.
          removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        })
      : undefined;
    key?.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogs',
        principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*` },
        },
      }),
    );
    key?.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    const logKey = key;
    // Production keeps its logs when the stack is deleted; a failed first create removes them
    // (RetainExceptOnCreate), so a retry does not meet "log group already exists".
    const logRemoval = isProduction ? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE : RemovalPolicy.DESTROY;

    const appLogGroup = new logs.LogGroup(this, 'AppLogGroup', {
      logGroupName: `/ecs/${name}`,
      retention: cfg.logRetentionDays,
      encryptionKey: logKey,
      removalPolicy: logRemoval,
    });

    const alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      topicName: `${name}-alarms`,
      displayName: `Time Warp ${stage} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    if (cfg.alarmEmail) alarmTopic.addSubscription(new subscriptions.EmailSubscription(cfg.alarmEmail));

    /* ---------------------------------------------------------------- network */

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogGroup', {
      logGroupName: `/vpc/${name}/flow-logs`,
      retention: cfg.logRetentionDays,
      encryptionKey: logKey,
      removalPolicy: logRemoval,
    });
    // Two AZs of subnets even for a single-AZ stage: an ALB and an RDS subnet group both need
    // subnets in two AZs. Without NAT gateways there are no private subnets with egress: the
    // tasks run in the public subnets with a public IP (and only the ALB may connect to them).
    const publicTasks = cfg.natGateways === 0;
    const vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(isProduction ? '10.20.0.0/16' : '10.10.0.0/16'),
      maxAzs: 2,
      natGateways: cfg.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        ...(publicTasks ? [] : [{ name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 }]),
        { name: 'db', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      // Emptying the default security group takes a custom-resource Lambda; nothing here uses it.
      restrictDefaultSecurityGroup: false,
      flowLogs: {
        all: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup), trafficType: ec2.FlowLogTrafficType.ALL },
      },
    });

    // Where the tasks (serve and migrate) run: private subnets behind NAT, or public subnets with
    // a public IP; one AZ only for a single-AZ stage.
    const candidateSubnets = publicTasks ? vpc.publicSubnets : vpc.privateSubnets;
    const taskSubnets = cfg.singleAz ? [candidateSubnets[0]] : candidateSubnets;

    // Least privilege: internet -> ALB on 443/80, ALB -> tasks on 8000, tasks -> DB on 5432, nothing else in.
    const albSg = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      description: 'Time Warp ALB: HTTPS and HTTP (redirect) from the internet',
      allowAllOutbound: false,
    });
    const serviceSg = new ec2.SecurityGroup(this, 'ServiceSecurityGroup', {
      vpc,
      description: 'Time Warp tasks: HTTP from the ALB only',
      allowAllOutbound: false,
    });
    const dbSg = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc,
      description: 'Time Warp database: PostgreSQL from the tasks only',
      allowAllOutbound: false,
    });
    if (cfg.cdn) {
      // Behind CloudFront (lib/cdn.ts) only its origin-facing servers may connect, on 443 only:
      // CloudFront redirects viewers' HTTP itself. The managed prefix list weighs 55 rules of a
      // security group's 60, so a second rule from it (port 80) would not fit.
      albSg.addIngressRule(ec2.Peer.prefixList(cfg.cloudFrontPrefixListId!), ec2.Port.tcp(443), 'HTTPS from CloudFront origin-facing servers only');
    } else {
      albSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS from the internet');
      albSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80), 'HTTP from the internet, redirected to HTTPS');
    }
    albSg.addEgressRule(serviceSg, ec2.Port.tcp(T.CONTAINER_PORT), 'Requests and health checks to the tasks');
    serviceSg.addIngressRule(albSg, ec2.Port.tcp(T.CONTAINER_PORT), 'From the ALB only');
    serviceSg.addEgressRule(dbSg, ec2.Port.tcp(5432), 'PostgreSQL');
    // Image pulls (ECR), secrets (Secrets Manager) and logs (CloudWatch) go to public AWS
    // endpoints through the NAT gateway (or the task's public IP); interface endpoints would
    // cost more than either here.
    serviceSg.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      `AWS APIs (ECR, Secrets Manager, CloudWatch Logs) via ${publicTasks ? 'the public IP' : 'NAT'}`,
    );
    dbSg.addIngressRule(serviceSg, ec2.Port.tcp(5432), 'PostgreSQL from the tasks (serve and migrate)');
    if (!cfg.cdn) ack(albSg, 'EC23', 'A public API: the load balancer must accept 443 (and 80, which only redirects) from any IPv4 address.');

    /* ---------------------------------------------------------------- database */

    const dbLogGroup = new logs.LogGroup(this, 'DatabaseLogGroup', {
      // The group RDS writes to; created here so that it has a retention and a key.
      logGroupName: `/aws/rds/instance/${name}/postgresql`,
      retention: cfg.logRetentionDays,
      encryptionKey: logKey,
      removalPolicy: logRemoval,
    });
    const db = new rds.DatabaseInstance(this, 'Database', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_15 }),
      instanceIdentifier: name,
      instanceType: new ec2.InstanceType(cfg.dbInstanceClass),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [dbSg],
      publiclyAccessible: false,
      multiAz: cfg.multiAz,
      // A single-AZ stage keeps its database beside its tasks (no cross-AZ traffic).
      availabilityZone: cfg.singleAz ? taskSubnets[0].availabilityZone : undefined,
      databaseName: DB_NAME,
      // Generated secret name: a secret deleted by a rolled-back create keeps its name reserved
      // for its recovery window, which would make the retry fail.
      credentials: rds.Credentials.fromGeneratedSecret(DB_USER),
      storageType: rds.StorageType.GP3,
      allocatedStorage: cfg.dbAllocatedStorageGiB,
      maxAllocatedStorage: cfg.dbMaxAllocatedStorageGiB,
      storageEncrypted: true,
      backupRetention: Duration.days(cfg.backupRetentionDays),
      preferredBackupWindow: '03:00-03:30',
      preferredMaintenanceWindow: 'sun:04:00-sun:04:30',
      copyTagsToSnapshot: true,
      // Off for the first create (firstDeploy): a rollback could not delete a protected instance.
      deletionProtection: cfg.deletionProtection && !cfg.firstDeploy,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      autoMinorVersionUpgrade: true,
      cloudwatchLogsExports: ['postgresql'],
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
    });
    db.node.addDependency(dbLogGroup);
    const dbSecret = db.secret!;
    // db.secret is the attachment; the generated secret itself is the 'Secret' child.
    const dbSecretResource = db.node.findChild('Secret');

    ack(db, 'RDS11', 'The default port 5432 is kept on purpose: the database is in isolated subnets behind a security group that admits only the tasks, so a non-default port would add no protection.');
    if (!cfg.multiAz) ack(db, 'RDS3', `Multi-AZ is switched off for ${stage} to halve the database cost; production runs Multi-AZ.`);
    if (!cfg.deletionProtection || cfg.firstDeploy) {
      ack(
        db,
        'RDS10',
        cfg.firstDeploy
          ? `First create of ${stage}: deletion protection stays off so that a failed create can roll back and be retried; the next deploy switches it on.`
          : `Deletion protection is off for ${stage} so that the stage can be torn down; a final snapshot is still taken (removal policy SNAPSHOT).`,
      );
    }
    ack(
      dbSecretResource,
      'SMG4',
      'The master (owner) credentials are used only by the one-off migrate task and by the rotation function of the service user; the service never holds them. Rotate by hand (docs/DEPLOYMENT.md).',
    );

    // The service user's password and SECRET_KEY: Secrets Manager secrets, or (parameterStoreSecrets,
    // the small profile) free SSM SecureStrings generated in the account. Either way no value is
    // in the image, the template or the task definition.
    let serviceSecret: rds.DatabaseSecret | undefined;
    let serveSecrets: Record<string, ecs.Secret>;
    let migrateSecrets: Record<string, ecs.Secret>;
    const serveEnvironment: Record<string, string> = {};
    const migrateEnvironment: Record<string, string> = {};
    let generated: GeneratedParameters | undefined;
    if (cfg.parameterStoreSecrets) {
      const passwordName = `/${name}/service-db-password`;
      const secretKeyName = `/${name}/secret-key`;
      generated = new GeneratedParameters(this, 'GeneratedParameters', {
        names: [passwordName, secretKeyName],
        description: `Time Warp ${stage}: generate the service's database password and SECRET_KEY in Parameter Store`,
        logRetentionDays: cfg.logRetentionDays,
      });
      const servicePassword = ecs.Secret.fromSsmParameter(generated.parameters[passwordName]);
      const secretKeyParameter = ecs.Secret.fromSsmParameter(generated.parameters[secretKeyName]);
      // The user name is no secret, and without rotation it never changes.
      serveSecrets = { DB_PASSWORD: servicePassword, SECRET_KEY: secretKeyParameter };
      serveEnvironment.DB_USER = SERVICE_DB_USER;
      migrateSecrets = {
        DB_USER: ecs.Secret.fromSecretsManager(dbSecret, 'username'),
        DB_PASSWORD: ecs.Secret.fromSecretsManager(dbSecret, 'password'),
        TIMEWARP_DB_SERVICE_PASSWORD: servicePassword,
        SECRET_KEY: secretKeyParameter,
      };
      migrateEnvironment.TIMEWARP_DB_SERVICE_ROLE = SERVICE_DB_USER;
      new CfnOutput(this, 'ServiceDatabasePasswordParameter', { value: passwordName, description: `SSM SecureString: password of the service's database user (${SERVICE_DB_USER})` });
      new CfnOutput(this, 'SecretKeyParameter', { value: secretKeyName, description: 'SSM SecureString: SECRET_KEY' });
    } else {
      // The second secret: the service's own database user. The rotation function reads the master
      // secret through the "masterarn" key to create/alter the alternating users.
      serviceSecret = new rds.DatabaseSecret(this, 'ServiceDatabaseSecret', {
        username: SERVICE_DB_USER,
        masterSecret: dbSecret,
      });
      const serviceDbSecret = serviceSecret.attach(db);
      if (cfg.rotation) {
        // The rotation function needs the database and the Secrets Manager API: private subnets
        // behind NAT, or (no NAT) the isolated subnets with a Secrets Manager interface endpoint.
        let endpoint: ec2.InterfaceVpcEndpoint | undefined;
        if (publicTasks) {
          endpoint = vpc.addInterfaceEndpoint('SecretsManagerEndpoint', {
            service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            subnets: { subnets: [vpc.isolatedSubnets[0]] },
            privateDnsEnabled: true,
            open: false,
          });
          // With private DNS the tasks reach Secrets Manager through it too.
          endpoint.connections.allowDefaultPortFrom(serviceSg, 'Secrets Manager from the tasks');
        }
        const rotationSg = new ec2.SecurityGroup(this, 'RotationSecurityGroup', {
          vpc,
          description: 'Time Warp password rotation function: PostgreSQL and the Secrets Manager API',
          allowAllOutbound: false,
        });
        rotationSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'Secrets Manager API');
        db.addRotationMultiUser('ServiceUserRotation', {
          secret: serviceDbSecret,
          automaticallyAfter: Duration.days(cfg.rotationDays),
          vpcSubnets: publicTasks ? { subnets: [vpc.isolatedSubnets[0]] } : { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
          endpoint,
          securityGroup: rotationSg,
          // The first rotation waits for the schedule: the role exists only once the migrate task ran.
          rotateImmediatelyOnUpdate: false,
        });
      } else {
        ack(
          serviceSecret,
          'SMG4',
          `Rotation is off for ${stage} (context rotation=false, the small profile's default: without a NAT gateway it needs a $7.30/month endpoint); rotate by hand as docs/DEPLOYMENT.md says.`,
        );
      }

      // SECRET_KEY signs pagination cursors; generated once, never in the image or the template.
      const secretKey = new secretsmanager.Secret(this, 'SecretKey', {
        description: 'Time Warp SECRET_KEY (signs pagination cursors)',
        generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      });
      ack(
        secretKey,
        'SMG4',
        'Rotating SECRET_KEY invalidates every cursor a client holds; it is rotated by hand, with a forced new deployment, when needed (docs/DEPLOYMENT.md).',
      );
      // The service connects as its own limited user; the migrate task as the owner (master),
      // and it gets the service user's credentials to create and grant that role.
      serveSecrets = {
        DB_USER: ecs.Secret.fromSecretsManager(serviceDbSecret, 'username'),
        DB_PASSWORD: ecs.Secret.fromSecretsManager(serviceDbSecret, 'password'),
        SECRET_KEY: ecs.Secret.fromSecretsManager(secretKey),
      };
      migrateSecrets = {
        DB_USER: ecs.Secret.fromSecretsManager(dbSecret, 'username'),
        DB_PASSWORD: ecs.Secret.fromSecretsManager(dbSecret, 'password'),
        TIMEWARP_DB_SERVICE_ROLE: ecs.Secret.fromSecretsManager(serviceDbSecret, 'username'),
        TIMEWARP_DB_SERVICE_PASSWORD: ecs.Secret.fromSecretsManager(serviceDbSecret, 'password'),
        SECRET_KEY: ecs.Secret.fromSecretsManager(secretKey),
      };
    }

    /* ---------------------------------------------------------------- ECS: cluster, roles, tasks */

    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      clusterName: name,
      // Off in the small profile: its per-task metrics cost more than the rest of CloudWatch here.
      containerInsightsV2: cfg.containerInsights ? ecs.ContainerInsights.ENABLED : ecs.ContainerInsights.DISABLED,
      enableFargateCapacityProviders: true,
    });
    if (!cfg.containerInsights) {
      ack(
        cluster,
        'ECS4',
        `Container Insights is off for ${stage} (containerInsights=false, the small profile: about $2/month of per-task metrics); the alarms read the ALB's HealthyHostCount and the service's own CPU metric instead (docs/DEPLOYMENT.md).`,
      );
    }

    // Confused-deputy guard: only ECS tasks of this account may assume the roles.
    const ecsTasks = new iam.ServicePrincipal('ecs-tasks.amazonaws.com').withConditions({
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:ecs:${Aws.REGION}:${Aws.ACCOUNT_ID}:*` },
    });
    // Pulls the image, reads the three secrets, writes logs; CDK adds exactly those grants below.
    const executionRole = new iam.Role(this, 'TaskExecutionRole', {
      assumedBy: ecsTasks,
      description: `Time Warp ${stage}: ECS agent (image pull, secrets, logs)`,
    });
    // The server calls no AWS API, so the task role has no permissions at all.
    const taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: ecsTasks,
      description: `Time Warp ${stage}: the application (no AWS permissions)`,
    });

    const repository = ecr.Repository.fromRepositoryName(this, 'Repository', REPOSITORY_NAME);
    const image = ecs.ContainerImage.fromEcrRepository(repository, cfg.imageTag);

    const environment: Record<string, string> = {
      TIMEWARP_ENV: 'production', // staging runs the production configuration too: same checks, same code paths
      DB_ENGINE: 'postgres',
      DB_HOST: db.dbInstanceEndpointAddress,
      DB_PORT: db.dbInstanceEndpointPort,
      DB_NAME,
      // The ALB health checker sends the target IP as Host; the server exempts /health/ and
      // /health/live from this check.
      ALLOWED_HOSTS: cfg.domainName,
      PORT: String(T.CONTAINER_PORT),
      // The hops from the right of X-Forwarded-For/-Proto that the server trusts: the ALB, and
      // CloudFront before it when the CDN is on (rate limits and logs see the viewer, not an edge).
      TIMEWARP_TRUSTED_PROXIES: String(trustedProxies(cfg)),
      // Must stay longer than the ALB idle timeout (20 s) so the ALB always closes idle connections first.
      TIMEWARP_IDLE_TIMEOUT: String(T.SERVER_IDLE_TIMEOUT_SECONDS),
      // Health fails for interval x unhealthy threshold = 20 s after SIGTERM, so the ALB stops routing first.
      TIMEWARP_DRAIN_SECONDS: String(T.DRAIN_SECONDS),
      TIMEWARP_SHUTDOWN_TIMEOUT: String(T.SHUTDOWN_TIMEOUT_SECONDS),
      LOG_LEVEL: 'info',
      // The "Service" dimension of the server's metrics (namespace TimeWarp): one per stage, so
      // two stages in one account never mix their data; every alarm and widget uses it.
      TIMEWARP_SERVICE_NAME: cfg.serviceName,
      // One EMF line (Requests, DatabaseErrors, DatabaseReachable, ...) per minute: the alarms
      // below count in minutes.
      TIMEWARP_METRICS_INTERVAL: String(T.METRICS_INTERVAL_SECONDS),
    };
    // Fargate's default soft limit of 1024 open files is below TIMEWARP_MAX_CONNECTIONS (1000)
    // plus database connections and log files.
    const ulimits: ecs.Ulimit[] = [{ name: ecs.UlimitName.NOFILE, softLimit: 8192, hardLimit: 65535 }];
    const logging = (streamPrefix: string) =>
      ecs.LogDrivers.awsLogs({
        logGroup: appLogGroup,
        streamPrefix,
        // A slow CloudWatch must never block request handling on stdout.
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      });

    const serveTask = new ecs.FargateTaskDefinition(this, 'ServeTaskDefinition', {
      family: `${name}-serve`,
      cpu: cfg.taskCpu,
      memoryLimitMiB: cfg.taskMemoryMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      executionRole,
      taskRole,
    });
    const serveContainer = serveTask.addContainer('Serve', {
      containerName: CONTAINER_NAME,
      image,
      command: ['serve'],
      environment: { ...environment, ...serveEnvironment },
      secrets: serveSecrets,
      portMappings: [{ containerPort: T.CONTAINER_PORT, protocol: ecs.Protocol.TCP, name: 'http' }],
      readonlyRootFilesystem: true,
      user: '10001:10001',
      essential: true,
      ulimits,
      // `timewarp healthcheck` probes /health/live: the process, never the database, so a
      // database failover of any length replaces no task (lib/timing.ts has the reasoning).
      healthCheck: {
        command: ['CMD', '/usr/local/bin/timewarp', 'healthcheck'],
        interval: Duration.seconds(T.CONTAINER_HEALTH_INTERVAL_SECONDS),
        timeout: Duration.seconds(T.CONTAINER_HEALTH_TIMEOUT_SECONDS),
        retries: T.CONTAINER_HEALTH_RETRIES,
        startPeriod: Duration.seconds(T.CONTAINER_HEALTH_START_PERIOD_SECONDS),
      },
      // SIGKILL only after drain (20 s) + in-flight shutdown (10 s) + 15 s margin.
      stopTimeout: Duration.seconds(T.STOP_TIMEOUT_SECONDS),
      logging: logging('serve'),
    });

    const migrateTask = new ecs.FargateTaskDefinition(this, 'MigrateTaskDefinition', {
      family: `${name}-migrate`,
      cpu: cfg.taskCpu,
      memoryLimitMiB: cfg.taskMemoryMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      executionRole,
      taskRole,
    });
    migrateTask.addContainer('Migrate', {
      containerName: CONTAINER_NAME,
      image,
      // One-off: `timewarp migrate`; a rollback overrides it with ["migrate", "--to", "N"].
      command: ['migrate'],
      environment: { ...environment, ...migrateEnvironment },
      secrets: migrateSecrets,
      readonlyRootFilesystem: true,
      user: '10001:10001',
      essential: true,
      ulimits,
      stopTimeout: Duration.seconds(T.STOP_TIMEOUT_SECONDS),
      logging: logging('migrate'),
    });

    // No task may start before its parameters exist.
    if (generated) for (const td of [serveTask, migrateTask]) td.node.addDependency(generated.resource);
    for (const td of [serveTask, migrateTask]) {
      ack(
        td,
        'ECS2',
        cfg.parameterStoreSecrets
          ? 'The environment holds only non-secret settings (stage, database host/port/name, allowed host, timeouts, the fixed name of the service user); the passwords and SECRET_KEY are ECS secrets from Secrets Manager (master) and SSM SecureStrings.'
          : 'The environment holds only non-secret settings (stage, database host/port/name, allowed host, timeouts); DB_USER, DB_PASSWORD and SECRET_KEY come from Secrets Manager as ECS secrets.',
      );
    }
    ack(
      executionRole,
      'IAM5[Resource::*]',
      'ecr:GetAuthorizationToken has no resource-level permissions; pulls themselves are limited to the timewarp repository.',
    );

    /* ---------------------------------------------------------------- load balancer */

    const logBucket = new s3.Bucket(this, 'AccessLogBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED, // ALB access logs do not support SSE-KMS
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      lifecycleRules: [{ expiration: Duration.days(cfg.logRetentionDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    ack(logBucket, 'S1', 'This is the access-log bucket itself; logging its own accesses into itself would loop.');

    const alb = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: albSg,
      // Shorter than the server's 25 s keep-alive timeout: the ALB must be the side that closes
      // an idle connection, or it may reuse one the server just closed and answer 502.
      idleTimeout: Duration.seconds(T.ALB_IDLE_TIMEOUT_SECONDS),
      dropInvalidHeaderFields: true,
      // Off for the first create (firstDeploy), so that a failed create can roll back completely.
      deletionProtection: cfg.deletionProtection && !cfg.firstDeploy,
    });
    this.enableAccessLogs(alb, logBucket, 'alb');
    // The cluster-wide guard on writes, and AWS's managed rules (lib/waf.ts). Without it (staging,
    // the small profile) the server's per-task limits are the only rate limits.
    const waf = cfg.waf
      ? new Waf(this, 'Waf', { name, loadBalancer: alb, logRetentionDays: cfg.logRetentionDays, logKey, logRemoval, behindCdn: cfg.cdn })
      : undefined;

    const targetGroupProps: elbv2.ApplicationTargetGroupProps = {
      vpc,
      targetType: elbv2.TargetType.IP,
      protocol: elbv2.ApplicationProtocol.HTTP,
      port: T.CONTAINER_PORT,
      // Long enough for open requests and keep-alive connections (ALB idle 20 s) to finish
      // after ECS deregisters a task; it gets SIGTERM only afterwards.
      deregistrationDelay: Duration.seconds(T.DEREGISTRATION_DELAY_SECONDS),
      healthCheck: {
        path: T.HEALTH_CHECK_PATH,
        healthyHttpCodes: '200',
        // interval x unhealthy threshold = 20 s = TIMEWARP_DRAIN_SECONDS: a draining task (503)
        // leaves rotation before it stops accepting connections.
        interval: Duration.seconds(T.HEALTH_CHECK_INTERVAL_SECONDS),
        timeout: Duration.seconds(T.HEALTH_CHECK_TIMEOUT_SECONDS),
        healthyThresholdCount: T.HEALTHY_THRESHOLD,
        unhealthyThresholdCount: T.UNHEALTHY_THRESHOLD,
      },
    };
    const targetGroup = new elbv2.ApplicationTargetGroup(this, 'TargetGroup', targetGroupProps);
    const greenTargetGroup = cfg.blueGreen ? new elbv2.ApplicationTargetGroup(this, 'GreenTargetGroup', targetGroupProps) : undefined;

    // Behind CloudFront nothing reaches port 80 (the security group admits 443 only), so no listener.
    if (!cfg.cdn) alb.addListener('Http', {
      port: 80,
      protocol: elbv2.ApplicationProtocol.HTTP,
      open: false, // the security group rules above are the whole story
      defaultAction: elbv2.ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }),
    });
    const https = alb.addListener('Https', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      open: false,
      certificates: [elbv2.ListenerCertificate.fromArn(cfg.certificateArn)],
      sslPolicy: elbv2.SslPolicy.TLS13_12_PQ,
      // Rolling: requests for any other host name are answered by the ALB itself (as the server
      // would, with a 400) and never reach a task. Blue/green: ECS refuses listeners that mix
      // forward and fixed-response actions, so the default forwards too (the server still checks Host).
      defaultAction: greenTargetGroup
        ? elbv2.ListenerAction.forward([targetGroup])
        : elbv2.ListenerAction.fixedResponse(400, {
            contentType: 'application/json',
            messageBody: JSON.stringify({
              detail: 'Bad Request',
              error: { code: 'BAD_REQUEST', message: 'Unknown host', details: {} },
            }),
          }),
    });
    // Behind CloudFront the prefix list admits every distribution, anyone's: the API rule also
    // wants the secret header only ours adds (a generated secret, resolved by CloudFormation into
    // the distribution and this rule; it never appears in the template). With blue/green the
    // listener's default action forwards too, so there the prefix list is the only gate.
    const originSecret = cfg.cdn
      ? new secretsmanager.Secret(this, 'OriginVerifySecret', {
          description: `Time Warp ${stage}: value of the ${ORIGIN_VERIFY_HEADER} header CloudFront sends and the ALB requires`,
          generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
        })
      : undefined;
    if (originSecret) {
      ack(
        originSecret,
        'SMG4',
        'The origin header is resolved into the distribution and the listener rule at deploy time; a rotation needs the rule to accept old and new values while CloudFront deploys, not automated (docs/DEPLOYMENT.md).',
      );
    }
    const originVerifyValue = originSecret?.secretValue.unsafeUnwrap();
    const apiRule = new elbv2.ApplicationListenerRule(this, 'ApiRule', {
      listener: https,
      priority: 10,
      conditions: [
        elbv2.ListenerCondition.hostHeaders([cfg.domainName]),
        ...(originVerifyValue ? [elbv2.ListenerCondition.httpHeader(ORIGIN_VERIFY_HEADER, [originVerifyValue])] : []),
      ],
      action: greenTargetGroup
        ? elbv2.ListenerAction.weightedForward([
            { targetGroup, weight: 100 },
            { targetGroup: greenTargetGroup, weight: 0 },
          ])
        : elbv2.ListenerAction.forward([targetGroup]),
    });

    // The API's CloudFront distribution: the domain name points at it instead of the ALB.
    const apiCdn = cfg.cdn
      ? new ApiCdn(this, 'Cdn', {
          name,
          loadBalancer: alb,
          domainName: cfg.domainName,
          certificateArn: cfg.cdnCertificateArn!,
          originVerifyValue: originVerifyValue!,
        })
      : undefined;
    if (apiCdn) {
      const dist = apiCdn.distribution;
      ack(dist, 'CFR1', 'The archive is meant for everyone: there is no legal or licensing reason to exclude any country from the API.');
      ack(
        dist,
        'CFR2',
        'The regional WAF stays on the ALB (cluster-wide POST limits, managed rules); a CLOUDFRONT-scope web ACL must live in us-east-1, outside this stack, and would double the WAF cost (docs/DEPLOYMENT.md).',
      );
      ack(
        dist,
        'CFR3',
        'Standard logging needs a bucket with ACLs enabled, which the log bucket refuses on purpose; every request that reaches the origin is in the ALB access logs, and cache hits are in the CloudFront metrics.',
      );
    }

    /* ---------------------------------------------------------------- service */

    const service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition: serveTask,
      desiredCount: cfg.desiredCount,
      vpcSubnets: { subnets: taskSubnets },
      securityGroups: [serviceSg],
      // Without NAT the task reaches ECR, Secrets Manager and CloudWatch through its own public
      // IP; its security group still admits only the ALB.
      assignPublicIp: publicTasks,
      platformVersion: ecs.FargatePlatformVersion.LATEST,
      // Never fewer healthy tasks than desired during a deploy; new ones start first.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      // A deployment whose tasks keep failing stops and rolls back to the last good one.
      circuitBreaker: { enable: true, rollback: true },
      deploymentStrategy: cfg.blueGreen ? ecs.DeploymentStrategy.BLUE_GREEN : ecs.DeploymentStrategy.ROLLING,
      bakeTime: cfg.blueGreen ? Duration.minutes(5) : undefined,
      healthCheckGracePeriod: Duration.seconds(T.HEALTH_CHECK_GRACE_SECONDS),
      capacityProviderStrategies: cfg.fargateSpot
        ? [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }]
        : [{ capacityProvider: 'FARGATE', weight: 1 }],
      enableExecuteCommand: false,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
    });
    // A capacity provider strategy only works once the providers are associated with the cluster.
    service.node.addDependency(cluster);
    const lbTarget = service.loadBalancerTarget({
      containerName: serveContainer.containerName,
      containerPort: T.CONTAINER_PORT,
      alternateTarget: greenTargetGroup
        ? new ecs.AlternateTarget('GreenTarget', {
            alternateTargetGroup: greenTargetGroup,
            productionListener: ecs.ListenerRuleConfiguration.applicationListenerRule(apiRule),
          })
        : undefined,
    });
    targetGroup.addTarget(lbTarget);
    if (greenTargetGroup) {
      // ECS needs its infrastructure role to move the listener rule's weights between the groups.
      ack(
        service,
        'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers]',
        'The AWS-managed policy ECS documents for blue/green traffic shifting; it tracks the ELB APIs ECS needs.',
      );
    }

    // Autoscaling only where there is room to scale (not the small profile's fixed single task).
    // Each target-tracking policy creates two CloudWatch alarms of its own (high and low).
    if (cfg.maxCount > Math.max(cfg.minCount, 1)) {
      const scaling = service.autoScaleTaskCount({ minCapacity: cfg.minCount, maxCapacity: cfg.maxCount });
      scaling.scaleOnCpuUtilization('CpuScaling', {
        targetUtilizationPercent: 60,
        scaleOutCooldown: Duration.seconds(60),
        scaleInCooldown: Duration.seconds(300),
      });
      // With several target-tracking policies, ECS scales out when any asks and in only when all agree.
      // (With blue/green, this follows the primary target group; CPU scaling covers the swap.)
      scaling.scaleOnRequestCount('RequestScaling', {
        requestsPerTarget: cfg.requestsPerTargetPerMinute,
        targetGroup,
        scaleOutCooldown: Duration.seconds(60),
        scaleInCooldown: Duration.seconds(300),
      });
    }

    /* ---------------------------------------------------------------- alarms */

    // alarms=essential (the small profile) keeps the ten alarm metrics CloudWatch gives for free:
    // a task serving, the database reachable and error-free, 5xx and latency (the deployment
    // alarms, which page as well), task and database CPU, database storage.
    const full = cfg.alarms === 'full';
    const alarm = (id: string, props: cloudwatch.AlarmProps) => {
      const a = new cloudwatch.Alarm(this, id, props);
      a.addAlarmAction(new cwActions.SnsAction(alarmTopic));
      a.addOkAction(new cwActions.SnsAction(alarmTopic));
      return a;
    };
    const minute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);
    // The server's own metrics (EMF lines in the log, namespace TimeWarp), this stage only.
    const appMetric = (metricName: string, statistic: string, period = minute) =>
      new cloudwatch.Metric({ namespace: APP_NAMESPACE, metricName, dimensionsMap: { Service: cfg.serviceName }, statistic, period });
    // Container Insights: what ECS wants running and what runs (absent when no task runs at all).
    const insights = (metricName: string, statistic = 'Maximum') =>
      new cloudwatch.Metric({
        namespace: 'ECS/ContainerInsights',
        metricName,
        dimensionsMap: { ClusterName: cluster.clusterName, ServiceName: service.serviceName },
        statistic,
        period: minute,
      });
    const desiredTasks = insights('DesiredTaskCount');
    const runningTasks = insights('RunningTaskCount', 'Minimum');
    const healthyHosts = targetGroup.metrics.healthyHostCount({ period: minute, statistic: 'Minimum' });

    alarm('ServiceCpuHigh', {
      alarmName: `${name}-service-cpu-high`,
      alarmDescription: 'Service CPU above 80% for 3 of 5 minutes (autoscaling targets 60%)',
      metric: service.metricCpuUtilization({ period: minute, statistic: 'Average' }),
      threshold: 80,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
    });
    if (full) alarm('ServiceMemoryHigh', {
      alarmName: `${name}-service-memory-high`,
      alarmDescription: 'Service memory above 80% for 3 of 5 minutes',
      metric: service.metricMemoryUtilization({ period: minute, statistic: 'Average' }),
      threshold: 80,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
    });
    if (full) alarm('UnhealthyTargets', {
      alarmName: `${name}-unhealthy-targets`,
      alarmDescription: `At least one target failed its ${T.HEALTH_CHECK_PATH} check for 3 minutes`,
      metric: targetGroup.metrics.unhealthyHostCount({ period: minute, statistic: 'Maximum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // UnHealthyHostCount reads 0 when there is no task at all: these two compare with what
    // ECS wants instead. A missing metric counts as 0 (FILL), so "no task" alarms too. Without
    // Container Insights there is no DesiredTaskCount: the floor, minCount, stands in (exact for
    // the small profile's fixed task count).
    alarm('HealthyHostsBelowDesired', {
      alarmName: `${name}-healthy-hosts-below-desired`,
      alarmDescription: cfg.containerInsights
        ? 'Fewer healthy targets than desired tasks for 5 minutes (a deploy or scale-out takes about 1)'
        : `Fewer healthy targets than minCount (${cfg.minCount}) for 5 minutes (a deploy or a Spot replacement takes about 1)`,
      metric: new cloudwatch.MathExpression({
        label: 'desired - healthy',
        expression: cfg.containerInsights ? `FILL(desired, ${cfg.minCount}) - FILL(healthy, 0)` : `${cfg.minCount} - FILL(healthy, 0)`,
        usingMetrics: cfg.containerInsights ? { desired: desiredTasks, healthy: healthyHosts } : { healthy: healthyHosts },
        period: minute,
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 5,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    if (cfg.containerInsights) alarm('RunningTasksBelowDesired', {
      alarmName: `${name}-running-tasks-below-desired`,
      alarmDescription: 'Fewer running tasks than desired for 5 minutes',
      metric: new cloudwatch.MathExpression({
        label: 'desired - running',
        expression: `FILL(desired, ${cfg.minCount}) - FILL(running, 0)`,
        usingMetrics: { desired: desiredTasks, running: runningTasks },
        period: minute,
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 5,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    // The deep health check as an alarm, never as a restart: the server writes DatabaseReachable
    // (1 or 0) once per metrics interval. No data for these minutes means no task reports.
    alarm('DatabaseUnreachable', {
      alarmName: `${name}-database-unreachable`,
      alarmDescription: `The database was unreachable from a task (DatabaseReachable < 1, i.e. /health/ failing) for ${T.DATABASE_UNREACHABLE_ALARM_MINUTES} minutes`,
      metric: appMetric('DatabaseReachable', 'Minimum'),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: T.DATABASE_UNREACHABLE_ALARM_MINUTES,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    alarm('DatabaseErrors', {
      alarmName: `${name}-database-errors`,
      alarmDescription: 'Database operations failed (TimeWarp/DatabaseErrors) in 3 consecutive minutes',
      metric: appMetric('DatabaseErrors', 'Sum'),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      // An idle service writes no metrics line: no data is no error.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const fiveXxRate = (period: Duration) =>
      new cloudwatch.MathExpression({
        label: '5xx %',
        expression: '100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / MAX([FILL(requests, 0), 1])',
        usingMetrics: {
          elb5xx: alb.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period, statistic: 'Sum' }),
          target5xx: alb.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period, statistic: 'Sum' }),
          requests: alb.metrics.requestCount({ period, statistic: 'Sum' }),
        },
        period,
      });
    if (full) alarm('Alb5xxRate', {
      alarmName: `${name}-alb-5xx-rate`,
      alarmDescription: 'More than 5% of requests answered 5xx (by the ALB or the tasks) in 2 of 3 five-minute periods',
      metric: fiveXxRate(fiveMinutes),
      threshold: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (full) alarm('TargetLatencyHigh', {
      alarmName: `${name}-target-latency-p95-high`,
      alarmDescription: 'p95 target response time above 1 s for 3 five-minute periods',
      metric: alb.metrics.targetResponseTime({ period: fiveMinutes, statistic: 'p95' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (full) alarm('DatabaseConnectionsHigh', {
      alarmName: `${name}-db-connections-high`,
      alarmDescription: 'Database connections above 80% of max_connections for this instance class',
      metric: db.metricDatabaseConnections({ period: fiveMinutes, statistic: 'Maximum' }),
      threshold: dbConnectionAlarmThreshold(cfg.dbInstanceClass),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
    });
    alarm('DatabaseCpuHigh', {
      alarmName: `${name}-db-cpu-high`,
      alarmDescription: 'Database CPU above 80% for 3 five-minute periods',
      metric: db.metricCPUUtilization({ period: fiveMinutes, statistic: 'Average' }),
      threshold: 80,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
    });
    alarm('DatabaseFreeStorageLow', {
      alarmName: `${name}-db-free-storage-low`,
      alarmDescription: 'Less than 2 GiB of free database storage (storage autoscaling should have acted)',
      metric: db.metricFreeStorageSpace({ period: fiveMinutes, statistic: 'Minimum' }),
      threshold: 2 * 1024 ** 3,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });

    // Deployment alarms: ECS watches these during a deployment (and its bake time) and rolls
    // back to the last good revision when one fires, so a release that starts fine but then
    // answers 5xx or slowly is undone on its metrics, not only on failed starts. One-minute
    // periods, so that a bad release is caught within minutes.
    const deploy5xx = alarm('Deploy5xxRate', {
      alarmName: `${name}-deploy-5xx-rate`,
      alarmDescription: `${full ? 'Deployment guard' : 'Deployment guard and the 5xx page'}: more than 5% of requests answered 5xx in 3 consecutive minutes`,
      metric: fiveXxRate(minute),
      threshold: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const deployLatency = alarm('DeployLatencyHigh', {
      alarmName: `${name}-deploy-latency-p99-high`,
      alarmDescription: `${full ? 'Deployment guard' : 'Deployment guard and the latency page'}: p99 target response time above 2 s in 3 consecutive minutes`,
      metric: alb.metrics.targetResponseTime({ period: minute, statistic: 'p99' }),
      threshold: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    service.enableDeploymentAlarms([deploy5xx.alarmName, deployLatency.alarmName], {
      behavior: ecs.AlarmBehavior.ROLLBACK_ON_ALARM,
    });

    /* ---------------------------------------------------------------- dashboard, saved queries */

    const widget = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = [], width = 8) =>
      new cloudwatch.GraphWidget({ title, left, right, width, height: 6 });
    new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: name,
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          widget('Requests', [
            alb.metrics.requestCount({ period: minute, statistic: 'Sum', label: 'ALB requests' }),
            appMetric('Requests', 'Sum').with({ label: 'server requests' }),
          ]),
          widget('Latency (target response time)', [
            alb.metrics.targetResponseTime({ period: minute, statistic: 'p50', label: 'p50' }),
            alb.metrics.targetResponseTime({ period: minute, statistic: 'p99', label: 'p99' }),
          ]),
          widget('4xx and 5xx', [
            alb.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_4XX_COUNT, { period: minute, statistic: 'Sum', label: 'target 4xx' }),
            alb.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: minute, statistic: 'Sum', label: 'target 5xx' }),
            alb.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: minute, statistic: 'Sum', label: 'ALB 5xx' }),
          ]),
        ],
        [
          widget(
            'Database',
            [appMetric('DatabaseErrors', 'Sum').with({ label: 'database errors' })],
            [appMetric('DatabaseReachable', 'Minimum').with({ label: 'reachable (min)' })],
          ),
          widget('CPU and memory (%)', [
            service.metricCpuUtilization({ period: minute, statistic: 'Average', label: 'CPU' }),
            service.metricMemoryUtilization({ period: minute, statistic: 'Average', label: 'memory' }),
          ]),
          widget('Tasks and healthy hosts', [
            healthyHosts.with({ label: 'healthy hosts' }),
            ...(cfg.containerInsights
              ? [runningTasks.with({ label: 'running tasks' }), desiredTasks.with({ label: 'desired tasks' })]
              : []),
          ]),
        ],
        [
          new cloudwatch.AlarmStatusWidget({
            title: 'Alarms',
            width: 24,
            height: 4,
            alarms: this.node.children.filter((c): c is cloudwatch.Alarm => c instanceof cloudwatch.Alarm),
          }),
        ],
      ],
    });

    // CloudFront publishes its metrics in us-east-1 only, and an alarm reads its own region's:
    // the edge 5xx alarm exists only in a stage deployed there (a condition, not a lookup, so the
    // template stays region-agnostic). Made after the dashboard, whose alarm widget would
    // otherwise name an alarm that may not exist.
    if (apiCdn && full) {
      const edge5xx = alarm('Cdn5xxRate', {
        alarmName: `${name}-cdn-5xx-rate`,
        alarmDescription: 'More than 5% of viewer requests answered 5xx at the CloudFront edge in 2 of 3 five-minute periods (stages in us-east-1 only)',
        metric: new cloudwatch.Metric({
          namespace: 'AWS/CloudFront',
          metricName: '5xxErrorRate',
          dimensionsMap: { DistributionId: apiCdn.distribution.distributionId, Region: 'Global' },
          statistic: 'Average',
          period: fiveMinutes,
        }),
        threshold: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      const inUsEast1 = new CfnCondition(this, 'InUsEast1', { expression: Fn.conditionEquals(Aws.REGION, 'us-east-1') });
      (edge5xx.node.defaultChild as cloudwatch.CfnAlarm).cfnOptions.condition = inUsEast1;
    }

    // Saved Logs Insights queries on the container log (fields of the server's access log line).
    const query = (id: string, queryName: string, queryString: string) =>
      new logs.CfnQueryDefinition(this, id, {
        name: `${name}/${queryName}`,
        logGroupNames: [appLogGroup.logGroupName],
        queryString,
      });
    query(
      'ErrorsByPathQuery',
      'errors-by-path',
      'fields path, status | filter msg = "request" and status >= 500 | stats count(*) as errors by path, status | sort errors desc | limit 50',
    );
    query(
      'SlowestRequestsQuery',
      'slowest-requests',
      'fields @timestamp, request_id, method, path, status, duration_us / 1000 as duration_ms | filter msg = "request" | sort duration_us desc | limit 50',
    );
    query(
      'RequestByIdQuery',
      'request-by-id',
      'fields @timestamp, level, msg, method, path, status, duration_us, @message | filter request_id = "REPLACE-WITH-X-Request-Id" | sort @timestamp asc | limit 200',
    );

    /* ---------------------------------------------------------------- new tasks after a rotation */

    if (cfg.rotation) {
      // Tasks read DB_USER/DB_PASSWORD at start. With alternating users the credentials they
      // hold stay valid until the rotation after next, so a forced new deployment after each
      // successful rotation moves every task to the new user in time, with no failed request.
      const redeployLogGroup = new logs.LogGroup(this, 'RedeployOnRotationLogGroup', {
        retention: cfg.logRetentionDays,
        encryptionKey: logKey,
        removalPolicy: logRemoval,
      });
      const redeployRole = new iam.Role(this, 'RedeployOnRotationRole', {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Time Warp ${stage}: force a new deployment of the service after a password rotation`,
      });
      redeployRole.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ForceNewDeploymentOfThisServiceOnly',
          actions: ['ecs:UpdateService'],
          resources: [service.serviceArn],
        }),
      );
      redeployRole.addToPolicy(
        new iam.PolicyStatement({
          sid: 'WriteOwnLogs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [redeployLogGroup.logGroupArn],
        }),
      );
      const redeploy = new lambda.Function(this, 'RedeployOnRotation', {
        description: `Time Warp ${stage}: ecs UpdateService --force-new-deployment after RotationSucceeded`,
        runtime: lambda.Runtime.NODEJS_24_X,
        handler: 'index.handler',
        code: lambda.Code.fromInline(readFileSync(join(__dirname, 'redeploy-on-rotation.js'), 'utf8')),
        role: redeployRole,
        memorySize: 128,
        timeout: Duration.seconds(30),
        logGroup: redeployLogGroup,
        environment: { CLUSTER: cluster.clusterName, SERVICE: service.serviceName },
      });
      new events.Rule(this, 'RedeployOnRotationRule', {
        description: `Time Warp ${stage}: the service user's password was rotated`,
        eventPattern: {
          source: ['aws.secretsmanager'],
          detailType: ['AWS Service Event via CloudTrail'],
          detail: {
            eventSource: ['secretsmanager.amazonaws.com'],
            eventName: ['RotationSucceeded'],
            additionalEventData: { SecretId: [serviceSecret!.secretArn] },
          },
        },
        targets: [new eventsTargets.LambdaFunction(redeploy, { retryAttempts: 8, maxEventAge: Duration.hours(2) })],
      });
    }

    /* ---------------------------------------------------------------- optional: DNS, static files */

    if (cfg.hostedZoneId && cfg.hostedZoneName) {
      const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', {
        hostedZoneId: cfg.hostedZoneId,
        zoneName: cfg.hostedZoneName,
      });
      new route53.ARecord(this, 'AliasRecord', {
        zone,
        recordName: `${cfg.domainName}.`,
        target: route53.RecordTarget.fromAlias(
          apiCdn ? new route53Targets.CloudFrontTarget(apiCdn.distribution) : new route53Targets.LoadBalancerTarget(alb),
        ),
      });
    }

    if (cfg.staticSite) {
      const staticBucket = new s3.Bucket(this, 'StaticBucket', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforceSSL: true,
        versioned: true,
        serverAccessLogsBucket: logBucket,
        serverAccessLogsPrefix: 'static-s3/',
        removalPolicy: RemovalPolicy.RETAIN,
      });
      const distribution = new cloudfront.Distribution(this, 'StaticDistribution', {
        comment: `Time Warp ${stage} static files`,
        defaultRootObject: 'index.html',
        defaultBehavior: {
          origin: origins.S3BucketOrigin.withOriginAccessControl(staticBucket),
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
          responseHeadersPolicy: cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
        },
        priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
        httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      });
      ack(distribution, 'CFR1', 'The archive is meant for everyone: there is no legal or licensing reason to exclude any country from the static files.');
      ack(distribution, 'CFR2', 'Only public, read-only static files behind it; a WAF web ACL (about $6/month before requests) buys nothing here.');
      ack(
        distribution,
        'CFR3',
        'Standard logging needs a bucket with ACLs enabled, which the log bucket refuses on purpose; the files are public and the S3 origin has server access logging.',
      );
      ack(
        distribution,
        'CFR4',
        'Serves on the default *.cloudfront.net name, whose certificate has a fixed security policy that no setting can raise; give the distribution an alias with its own ACM certificate to set TLSv1.2_2021.',
      );
      new CfnOutput(this, 'StaticBucketName', { value: staticBucket.bucketName });
      new CfnOutput(this, 'StaticDistributionDomainName', { value: distribution.distributionDomainName });
    }

    /* ---------------------------------------------------------------- outputs (read by scripts/deploy.sh) */

    const out = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    out('ClusterName', cluster.clusterName, 'ECS cluster');
    out('ServiceName', service.serviceName, 'ECS service running `timewarp serve`');
    out('ServeTaskFamily', serveTask.family, 'Task definition family of the service');
    out('MigrateTaskFamily', migrateTask.family, 'Task definition family of the one-off `timewarp migrate`');
    out('ContainerName', CONTAINER_NAME, 'Container name in both task definitions');
    out('TaskSubnetIds', taskSubnets.map((s) => s.subnetId).join(','), 'Subnets of the service, for one-off tasks');
    out('TaskAssignPublicIp', publicTasks ? 'ENABLED' : 'DISABLED', 'assignPublicIp for one-off tasks (ENABLED without NAT)');
    out('ServiceSecurityGroupId', serviceSg.securityGroupId, 'Security group for one-off tasks');
    out('LoadBalancerDnsName', alb.loadBalancerDnsName, apiCdn ? 'The origin of the API distribution (admits CloudFront only)' : 'Point the domain name here (CNAME or alias)');
    if (apiCdn) {
      out('ApiDistributionDomainName', apiCdn.distribution.distributionDomainName, 'Point the domain name here (CNAME or alias): the API distribution');
      out('ApiDistributionId', apiCdn.distribution.distributionId, 'For invalidations (aws cloudfront create-invalidation)');
    }
    out('DomainName', cfg.domainName, 'Public name of the API');
    out('LogGroupName', appLogGroup.logGroupName, 'Container logs (streams serve/... and migrate/...)');
    out('DatabaseSecretArn', dbSecret.secretArn, 'Master (owner) database credentials: the migrate task');
    if (serviceSecret) out('ServiceDatabaseSecretArn', serviceSecret.secretArn, `Credentials of the service's own database user (${SERVICE_DB_USER})`);
    out('DashboardName', name, 'CloudWatch dashboard of this stage');
    out('MetricsServiceDimension', cfg.serviceName, 'Dimension "Service" of the TimeWarp metrics of this stage');
    out('AlarmTopicArn', alarmTopic.topicArn, 'Subscribe on-call addresses here');
    if (waf) {
      out('WebAclArn', waf.webAcl.attrArn, 'AWS WAF web ACL on the load balancer');
      out('WafLogGroupName', waf.logGroup.logGroupName, 'Requests the WAF blocked or counted (Authorization redacted)');
    }
  }

  /*
   * ALB access logs in an environment-agnostic stack. CDK's logAccessLogs() needs a concrete
   * region to pick the principal that writes the logs, so the choice is made by CloudFormation:
   * regions from before August 2022 use the regional Elastic Load Balancing account, newer
   * ones the log-delivery service principal.
   */
  private enableAccessLogs(alb: elbv2.ApplicationLoadBalancer, bucket: s3.Bucket, prefix: string): void {
    const accounts = RegionInfo.regionMap(FactName.ELBV2_ACCOUNT);
    const mapping: Record<string, Record<string, string>> = {};
    for (const region of RegionInfo.regions.map((r) => r.name).sort()) {
      mapping[region] = { account: accounts[region] ?? 'none' };
    }
    const map = new CfnMapping(this, 'ElbLogDeliveryAccount', { mapping });
    const account = map.findInMap(Aws.REGION, 'account');
    const hasAccount = new CfnCondition(this, 'RegionHasElbLogAccount', { expression: Fn.conditionNot(Fn.conditionEquals(account, 'none')) });
    // In regions without one, the statement names this account instead: harmless, it has access anyway.
    const writer = Fn.conditionIf(hasAccount.logicalId, account, Aws.ACCOUNT_ID).toString();
    const objects = bucket.arnForObjects(`${prefix}/AWSLogs/${Aws.ACCOUNT_ID}/*`);
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'ElbAccessLogsRegionalAccount',
        principals: [new iam.ArnPrincipal(`arn:${Aws.PARTITION}:iam::${writer}:root`)],
        actions: ['s3:PutObject'],
        resources: [objects],
      }),
    );
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'ElbAccessLogsDeliveryService',
        principals: [new iam.ServicePrincipal('logdelivery.elasticloadbalancing.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [objects],
      }),
    );
    alb.setAttribute('access_logs.s3.enabled', 'true');
    alb.setAttribute('access_logs.s3.bucket', bucket.bucketName);
    alb.setAttribute('access_logs.s3.prefix', prefix);
    // The bucket policy must exist before the ALB checks it can write there.
    alb.node.addDependency(bucket);
  }
}

/*
 * RDS PostgreSQL sets max_connections = LEAST(DBInstanceClassMemory / 9531392, 5000).
 * Alarm at 80% of it; each task holds one connection per worker thread.
 */
export function dbConnectionAlarmThreshold(instanceClass: string): number {
  const gib: Record<string, number> = { micro: 1, small: 2, medium: 4, large: 8, xlarge: 16, '2xlarge': 32, '4xlarge': 64 };
  const size = instanceClass.split('.')[1] ?? '';
  const memory = (gib[size] ?? 1) * 1024 ** 3;
  return Math.floor(0.8 * Math.min(memory / 9531392, 5000));
}
