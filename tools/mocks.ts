/**
 * What the mocked Google Cloud "returns" when the program runs offline: the outputs a real
 * provider would compute (e-mails, addresses, self links), so the program's `apply`s and
 * the plan's outputs read like a real run. One table entry per type token; values derive
 * from the inputs so tests can assert them exactly.
 */
import type * as pulumi from "@pulumi/pulumi";

type State = Record<string, unknown>;
type Computer = (name: string, inputs: State) => State;

/** The project id every mocked resource reports when it names none. */
export const MOCK_PROJECT = "mock-project";
/** The project number of the mocked project (what `getProject` returns). */
export const MOCK_PROJECT_NUMBER = "123456789012";

const projectOf = (inputs: State) => String(inputs.project ?? MOCK_PROJECT);

const COMPUTED: Record<string, Computer> = {
  "gcp:serviceaccount/account:Account": (_name, inputs) => {
    const email = `${String(inputs.accountId)}@${projectOf(inputs)}.iam.gserviceaccount.com`;
    return {
      email,
      member: `serviceAccount:${email}`,
      uniqueId: "104000000000000000001",
      name: `projects/${projectOf(inputs)}/serviceAccounts/${email}`,
    };
  },
  "gcp:compute/globalAddress:GlobalAddress": (_name, inputs) => ({
    address: inputs.ipVersion === "IPV6" ? "2001:db8:4860::10" : "203.0.113.10",
  }),
  "gcp:compute/address:Address": () => ({ address: "10.20.0.50" }),
  // The numeric id GCE gives a VM: a replaced VM keeps its name but gets a new id.
  "gcp:compute/instance:Instance": () => ({ instanceId: "4200000000000000001" }),
  "gcp:dns/managedZone:ManagedZone": (name) => ({
    nameServers: ["ns-cloud-a1.googledomains.com.", "ns-cloud-a2.googledomains.com."],
    managedZoneId: `${name}-id`,
  }),
  "gcp:secretmanager/secret:Secret": (_name, inputs) => ({
    name: `projects/${MOCK_PROJECT_NUMBER}/secrets/${String(inputs.secretId)}`,
  }),
  "gcp:storage/bucket:Bucket": (name, inputs) => ({ url: `gs://${String(inputs.name ?? name)}` }),
  "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": (_name, inputs) => ({
    name: `projects/${MOCK_PROJECT_NUMBER}/locations/global/workloadIdentityPools/${String(
      inputs.workloadIdentityPoolId,
    )}`,
  }),
  "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": (_name, inputs) => ({
    name:
      `projects/${MOCK_PROJECT_NUMBER}/locations/global/workloadIdentityPools/` +
      `${String(inputs.workloadIdentityPoolId)}/providers/` +
      String(inputs.workloadIdentityPoolProviderId),
  }),
  "gcp:certificatemanager/dnsAuthorization:DnsAuthorization": (_name, inputs) => ({
    dnsResourceRecords: [
      {
        name: `_acme-challenge.${String(inputs.domain)}.`,
        type: "CNAME",
        data: `${String(inputs.domain)}.mock.authorize.certificatemanager.goog.`,
      },
    ],
  }),
  "gcp:monitoring/notificationChannel:NotificationChannel": (name) => ({
    name: `projects/${MOCK_PROJECT}/notificationChannels/${name}`,
  }),
  "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig": (name) => ({
    uptimeCheckId: `${name}-check`,
    name: `projects/${MOCK_PROJECT}/uptimeCheckConfigs/${name}-check`,
  }),
  "gcp:monitoring/alertPolicy:AlertPolicy": (name) => ({
    name: `projects/${MOCK_PROJECT}/alertPolicies/${name}`,
  }),
  "random:index/randomPassword:RandomPassword": (_name, inputs) => ({
    result: "x".repeat(Number(inputs.length ?? 32)),
  }),
  "random:index/randomId:RandomId": () => ({ hex: "0a1b2c3d", b64Url: "ChssPQ" }),
};

/** State of a mocked resource: its inputs, a name, a self link, and the computed outputs. */
export function mockState(type: string, name: string, inputs: State): State {
  const resourceName = String(inputs.name ?? name);
  return {
    ...inputs,
    name: resourceName,
    selfLink: `https://mock.googleapis.com/${type}/${resourceName}`,
    ...(COMPUTED[type]?.(name, inputs) ?? {}),
  };
}

const INVOKES: Record<string, (args: State) => State> = {
  "gcp:organizations/getProject:getProject": (args) => ({
    projectId: args.projectId ?? MOCK_PROJECT,
    number: MOCK_PROJECT_NUMBER,
  }),
  "gcp:dns/getManagedZone:getManagedZone": (args) => ({
    name: args.name,
    dnsName: "guincholacerda.com.br.",
    nameServers: ["ns-cloud-b1.googledomains.com.", "ns-cloud-b2.googledomains.com."],
    visibility: "public",
  }),
  "gcp:dns/getKeys:getKeys": () => ({
    keySigningKeys: [{ dsRecord: "12345 8 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF" }],
    zoneSigningKeys: [],
  }),
  "gcp:compute/getImage:getImage": (args) => ({
    selfLink: `https://mock.googleapis.com/images/${String(args.family ?? "debian-12")}`,
  }),
};

/** The mocks the offline plan and the tests install with `pulumi.runtime.setMocks`. */
export function createMocks(
  onResource: (args: pulumi.runtime.MockResourceArgs) => void,
): pulumi.runtime.Mocks {
  return {
    newResource(args) {
      onResource(args);
      const state = mockState(args.type, args.name, args.inputs as State);
      return { id: `${String(state.name)}-id`, state };
    },
    call(args) {
      return INVOKES[args.token]?.(args.inputs as State) ?? {};
    },
  };
}
