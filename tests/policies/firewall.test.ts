import { FIREWALL, findingsFor, messages } from "./helpers";

const IAP = ["35.235.240.0/20"];
const LB_RANGES = ["130.211.0.0/22", "35.191.0.0/16"];
const SSH_FIX =
  "Allow SSH only from IAP's range 35.235.240.0/20 and connect with `gcloud compute ssh --tunnel-through-iap`.";
const LOGGED = { logConfig: { metadata: "INCLUDE_ALL_METADATA" } };

function rule(props: Record<string, unknown>): Record<string, unknown> {
  return { network: "vpc", ...LOGGED, ...props };
}

describe("firewall rules the system declares", () => {
  test.each([
    ["SSH from IAP only", { allows: [{ protocol: "tcp", ports: ["22"] }], sourceRanges: IAP }],
    [
      "HTTP from Google's load-balancer ranges",
      { allows: [{ protocol: "tcp", ports: ["80"] }], sourceRanges: LB_RANGES },
    ],
    [
      "a deny-all from anywhere",
      { denies: [{ protocol: "all" }], sourceRanges: ["0.0.0.0/0"], priority: 65534 },
    ],
  ])("raise no finding: %s", (_case, props) => {
    expect(findingsFor(FIREWALL, rule(props))).toEqual([]);
  });
});

describe("firewall-no-internet-ssh", () => {
  const policy = "firewall-no-internet-ssh";
  test.each([
    ["tcp/22 from 0.0.0.0/0", [{ protocol: "tcp", ports: ["22"] }], ["0.0.0.0/0"]],
    ["tcp/22 from ::/0", [{ protocol: "tcp", ports: ["22"] }], ["::/0"]],
    ["a range 20-30 that contains 22", [{ protocol: "tcp", ports: ["20-30"] }], ["0.0.0.0/0"]],
    ["protocol all", [{ protocol: "all" }], ["::/0"]],
    ["tcp with no ports (all ports)", [{ protocol: "tcp" }], ["0.0.0.0/0"]],
    ["protocol number 6 with port 22 as a number", [{ protocol: "6", ports: [22] }], ["0.0.0.0/0"]],
  ])("blocks %s", (_case, allows, sourceRanges) => {
    expect(messages(policy, FIREWALL, rule({ allows, sourceRanges }), { name: "fw" })).toEqual([
      `Firewall "fw" allows SSH (port 22) from the whole internet: sourceRanges ${JSON.stringify(sourceRanges)}, allow ${JSON.stringify(allows[0])}. ${SSH_FIX}`,
    ]);
  });

  test("blocks a rule with no source at all, which Google Cloud opens to every source", () => {
    const props = rule({ allows: [{ protocol: "tcp", ports: ["22"] }] });
    expect(messages(policy, FIREWALL, props, { name: "fw" })).toEqual([
      `Firewall "fw" allows SSH (port 22) from the whole internet: no source ranges, tags or service accounts (Google Cloud then allows every source), allow {"protocol":"tcp","ports":["22"]}. ${SSH_FIX}`,
    ]);
  });

  test.each([
    [
      "disabled",
      { disabled: true, allows: [{ protocol: "tcp", ports: ["22"] }], sourceRanges: ["0.0.0.0/0"] },
    ],
    ["a deny rule", { denies: [{ protocol: "tcp", ports: ["22"] }], sourceRanges: ["0.0.0.0/0"] }],
    [
      "egress",
      {
        direction: "EGRESS",
        allows: [{ protocol: "tcp", ports: ["22"] }],
        destinationRanges: ["0.0.0.0/0"],
      },
    ],
    [
      "from source tags only",
      { allows: [{ protocol: "tcp", ports: ["22"] }], sourceTags: ["bastion"] },
    ],
    [
      "udp/22 (not SSH)",
      { allows: [{ protocol: "udp", ports: ["22"] }], sourceRanges: ["0.0.0.0/0"] },
    ],
    [
      "a range 23-30 that misses 22",
      { allows: [{ protocol: "tcp", ports: ["23-30"] }], sourceRanges: ["0.0.0.0/0"] },
    ],
  ])("accepts a rule that is %s", (_case, props) => {
    expect(messages(policy, FIREWALL, rule(props))).toEqual([]);
  });
});

describe("firewall-no-internet-rdp", () => {
  test.each([[{ protocol: "tcp", ports: ["3389"] }], [{ protocol: "udp", ports: ["3000-4000"] }]])(
    "blocks RDP opened as %j",
    (allow) => {
      const props = rule({ allows: [allow], sourceRanges: ["0.0.0.0/0"] });
      expect(messages("firewall-no-internet-rdp", FIREWALL, props, { name: "fw" })).toEqual([
        `Firewall "fw" allows RDP (port 3389) from the whole internet: sourceRanges ["0.0.0.0/0"], allow ${JSON.stringify(allow)}. Allow RDP only from IAP's range 35.235.240.0/20, or remove the rule.`,
      ]);
    },
  );
});

describe("firewall-no-internet-database-ports", () => {
  const policy = "firewall-no-internet-database-ports";
  test.each([
    [{ protocol: "tcp", ports: ["5432"] }, "5432"],
    [{ protocol: "tcp", ports: ["3306", "6379"] }, "3306, 6379"],
    [{ protocol: "all" }, "3306, 5432, 1433, 1521, 27017, 6379, 9200, 9042, 5984, 11211"],
  ])("blocks %j", (allow, ports) => {
    const props = rule({ allows: [allow], sourceRanges: ["::/0"] });
    expect(messages(policy, FIREWALL, props, { name: "fw" })).toEqual([
      `Firewall "fw" opens database port(s) ${ports} to the whole internet: sourceRanges ["::/0"], allow ${JSON.stringify(allow)}. Keep databases private; reach them from inside the VPC or through IAP.`,
    ]);
  });

  test("accepts a database port open to the subnet only", () => {
    const props = rule({
      allows: [{ protocol: "tcp", ports: ["5432"] }],
      sourceRanges: ["10.40.0.0/24"],
    });
    expect(messages(policy, FIREWALL, props)).toEqual([]);
  });
});

describe("firewall-no-internet-wide-port-ranges", () => {
  const policy = "firewall-no-internet-wide-port-ranges";
  test.each([
    [{ protocol: "all" }, 65536],
    [{ protocol: "udp" }, 65536],
    [{ protocol: "tcp", ports: ["1024-65535"] }, 64512],
  ])("blocks %j", (allow, count) => {
    const props = rule({ allows: [allow], sourceRanges: ["0.0.0.0/0"] });
    expect(messages(policy, FIREWALL, props, { name: "fw" })).toEqual([
      `Firewall "fw" opens ${count} ports at once to the whole internet: sourceRanges ["0.0.0.0/0"], allow ${JSON.stringify(allow)}. Open only the ports the service listens on (at most 30 in one range).`,
    ]);
  });

  test("accepts a range of 30 ports, the most Trivy's GCP-0074 allows", () => {
    const props = rule({
      allows: [{ protocol: "udp", ports: ["60000-60029"] }],
      sourceRanges: ["0.0.0.0/0"],
    });
    expect(messages(policy, FIREWALL, props)).toEqual([]);
  });

  test("accepts HTTPS from the internet", () => {
    const props = rule({
      allows: [{ protocol: "tcp", ports: ["443"] }],
      sourceRanges: ["0.0.0.0/0"],
    });
    expect(messages(policy, FIREWALL, props)).toEqual([]);
  });
});

describe("firewall-logging", () => {
  test("advises logging on an enabled rule and ignores a disabled one", () => {
    const allows = [{ protocol: "tcp", ports: ["80"] }];
    const open = findingsFor(FIREWALL, { allows, sourceRanges: LB_RANGES }, { name: "fw" });
    expect(open).toEqual([
      {
        policy: "firewall-logging",
        enforcementLevel: "advisory",
        resource: { type: FIREWALL, name: "fw" },
        message:
          'Firewall "fw" does not log connections: logConfig is not set. Set logConfig { metadata: "INCLUDE_ALL_METADATA" } (or "EXCLUDE_ALL_METADATA" to save cost).',
      },
    ]);
    expect(findingsFor(FIREWALL, { allows, sourceRanges: LB_RANGES, disabled: true })).toEqual([]);
  });
});
