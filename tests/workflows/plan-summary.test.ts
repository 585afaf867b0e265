import { diffPlans, PlanDocument, renderSummary } from "../../tools/plan-summary";

const resource = (name: string, props: unknown = {}, protect = false) => ({
  type: "gcp:compute/instance:Instance",
  name,
  props,
  protect,
});

const base: PlanDocument = {
  stack: "prod",
  resources: [resource("vm", { machineType: "e2-small" }), resource("old")],
  findings: [],
};
const head: PlanDocument = {
  stack: "prod",
  resources: [resource("vm", { machineType: "e2-medium" }), resource("new")],
  findings: [
    {
      policy: "compute-no-public-ip",
      enforcementLevel: "mandatory",
      resource: { type: "gcp:compute/instance:Instance", name: "new" },
      message: 'Instance "new" has a public IP.',
    },
  ],
};

describe("plan summary", () => {
  test("lists added, removed and changed resources by type and name", () => {
    expect(diffPlans(head, base)).toEqual({
      stack: "prod",
      added: ["gcp:compute/instance:Instance::new"],
      removed: ["gcp:compute/instance:Instance::old"],
      changed: ["gcp:compute/instance:Instance::vm"],
      mandatory: head.findings,
      advisory: [],
    });
  });

  test("a change of protection alone is a change", () => {
    const protectedVm = { ...head, resources: [resource("vm", { machineType: "e2-small" }, true)] };
    expect(diffPlans(protectedVm, base).changed).toEqual(["gcp:compute/instance:Instance::vm"]);
  });

  test("without a base every resource is added", () => {
    expect(diffPlans(head).added).toHaveLength(2);
  });

  test("renders one Markdown comment with a marker, a table and the findings", () => {
    const text = renderSummary([diffPlans(head, base)], true);
    expect(text.split("\n").slice(0, 8)).toEqual([
      "<!-- guincho-plan-summary -->",
      "### Offline plan",
      "",
      "Compared with the base branch's plan, per stage (`npm run plan`, no cloud access).",
      "",
      "| stage | added | removed | changed | mandatory findings | advisory findings |",
      "|---|---|---|---|---|---|",
      "| prod | 1 | 1 | 1 | **1** | 0 |",
    ]);
    expect(text).toContain(
      '- **mandatory** `compute-no-public-ip` on `new`: Instance "new" has a public IP.',
    );
    expect(text).toContain("Mandatory findings block this change");
  });
});
