// Inline code of the RedeployOnRotation Lambda (lib/timewarp-stack.ts): an EventBridge rule calls
// it when Secrets Manager reports RotationSucceeded for the service's database secret. It forces a
// new deployment of the service, so every task starts again and reads the new DB_USER/DB_PASSWORD.
// Tasks hold the previous alternating user, which stays valid until the rotation after next, so the
// rolling deployment (new tasks first) fails no request. The AWS SDK v3 is part of the runtime.
'use strict';
const { ECSClient, UpdateServiceCommand } = require('@aws-sdk/client-ecs');

const ecs = new ECSClient({});

exports.handler = async (event) => {
  const detail = (event && event.detail) || {};
  if (detail.eventName !== 'RotationSucceeded') {
    throw new Error(`unexpected event ${JSON.stringify(detail.eventName)}: the rule matches RotationSucceeded only`);
  }
  const cluster = process.env.CLUSTER;
  const service = process.env.SERVICE;
  const out = await ecs.send(new UpdateServiceCommand({ cluster, service, forceNewDeployment: true }));
  const deployment = ((out.service && out.service.deployments) || []).find((d) => d.status === 'PRIMARY');
  console.log(JSON.stringify({
    msg: 'rotation succeeded: forced a new deployment',
    secret: (detail.additionalEventData || {}).SecretId,
    cluster,
    service,
    deployment: deployment ? deployment.id : null,
  }));
  return { cluster, service, deployment: deployment ? deployment.id : null };
};
