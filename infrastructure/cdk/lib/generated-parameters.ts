/*
 * SSM Parameter Store SecureStrings with generated values (the small profile's secrets, context
 * parameterStoreSecrets): standard parameters are free where a Secrets Manager secret is
 * $0.40/month. CloudFormation cannot create a SecureString, so a custom resource does
 * (lib/generate-parameters.js): the values are made inside the function and never appear in the
 * template, a CloudFormation event, the function's response or its log.
 * Encrypted with the AWS-managed key aws/ssm, which ECS may use through SSM without a KMS grant.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Arn, CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';

export interface GeneratedParametersProps {
  /** Parameter names, each starting with "/". */
  readonly names: string[];
  readonly description: string;
  readonly logRetentionDays: number;
}

export class GeneratedParameters extends Construct {
  /** The parameters by name, as ECS secrets read them (ecs.Secret.fromSsmParameter). */
  readonly parameters: Record<string, ssm.IParameter> = {};
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: GeneratedParametersProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const arns = props.names.map((name) =>
      Arn.format({ service: 'ssm', resource: 'parameter', resourceName: name.replace(/^\//, '') }, stack),
    );
    const logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetentionDays,
      // Holds names and errors only; a rolled-back create removes it.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'TheseParametersOnly',
        actions: ['ssm:PutParameter', 'ssm:DeleteParameters', 'ssm:DeleteParameter'],
        resources: arns,
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    const fn = new lambda.Function(this, 'Function', {
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline(readFileSync(join(__dirname, 'generate-parameters.js'), 'utf8')),
      role,
      memorySize: 128,
      timeout: Duration.seconds(60),
      logGroup,
    });
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: fn.functionArn,
      resourceType: 'Custom::GeneratedParameters',
      properties: { Names: props.names },
    });
    // The function must keep its permissions until its Delete has run.
    this.resource.node.addDependency(role);
    props.names.forEach((name, i) => {
      this.parameters[name] = ssm.StringParameter.fromSecureStringParameterAttributes(this, `Parameter${i}`, { parameterName: name });
    });
  }
}
