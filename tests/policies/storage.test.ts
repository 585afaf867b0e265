import { BUCKET, compliantBackupBucket, findingsFor, LABELS, messages } from "./helpers";

describe("a compliant backup bucket", () => {
  test.each([
    ["locked retention policy", {}],
    [
      "versioning instead of a retention policy",
      { retentionPolicy: undefined, versioning: { enabled: true } },
    ],
  ])("has no finding in prod with a %s", (_case, extra) => {
    expect(findingsFor(BUCKET, { ...compliantBackupBucket(), ...extra })).toEqual([]);
  });
});

describe("storage-uniform-access and storage-public-access-prevention", () => {
  test.each([
    [
      "storage-uniform-access",
      { uniformBucketLevelAccess: false },
      'Bucket "app" allows per-object ACLs: uniformBucketLevelAccess is false. Set uniformBucketLevelAccess to true.',
    ],
    [
      "storage-uniform-access",
      { uniformBucketLevelAccess: undefined },
      'Bucket "app" allows per-object ACLs: uniformBucketLevelAccess is not set. Set uniformBucketLevelAccess to true.',
    ],
    [
      "storage-public-access-prevention",
      { publicAccessPrevention: "inherited" },
      'Bucket "app" can be made public: publicAccessPrevention is "inherited". Set publicAccessPrevention to "enforced".',
    ],
    [
      "storage-public-access-prevention",
      { publicAccessPrevention: undefined },
      'Bucket "app" can be made public: publicAccessPrevention is not set. Set publicAccessPrevention to "enforced".',
    ],
  ])("%s blocks %j", (policy, extra, message) => {
    const props = { ...compliantBackupBucket(), ...extra };
    expect(messages(policy, BUCKET, props)).toEqual([message]);
  });
});

describe("storage-no-public-acls", () => {
  const policy = "storage-no-public-acls";
  test.each([
    [
      "gcp:storage/bucketAccessControl:BucketAccessControl",
      { bucket: "b", role: "READER", entity: "allUsers" },
      'BucketAccessControl "acl" grants "READER" to "allUsers". Remove it; share through IAM with named principals.',
    ],
    [
      "gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl",
      { bucket: "b", role: "READER", entity: "allAuthenticatedUsers" },
      'DefaultObjectAccessControl "acl" grants "READER" to "allAuthenticatedUsers". Remove it; share through IAM with named principals.',
    ],
    [
      "gcp:storage/bucketACL:BucketACL",
      { bucket: "b", roleEntities: ["OWNER:project-owners-1", "READER:allUsers"] },
      'BucketACL "acl" grants access to anyone: roleEntities include ["READER:allUsers"]. Remove them; share through IAM with named principals.',
    ],
    [
      "gcp:storage/objectACL:ObjectACL",
      { bucket: "b", object: "o", predefinedAcl: "publicRead" },
      'ObjectACL "acl" grants access to anyone: predefinedAcl is "publicRead". Use "private" or "projectPrivate".',
    ],
  ])("blocks %s to anyone", (type, props, message) => {
    expect(messages(policy, type, props, { name: "acl" })).toEqual([message]);
  });

  test("accepts an ACL for a named group", () => {
    const props = { bucket: "b", role: "READER", entity: "group-ops@guincholacerda.com.br" };
    const type = "gcp:storage/bucketAccessControl:BucketAccessControl";
    expect(messages(policy, type, props)).toEqual([]);
  });
});

describe("storage-backup-versioning", () => {
  const policy = "storage-backup-versioning";
  test.each([
    ["off", { enabled: false }, '{"enabled":false}'],
    ["not set", undefined, "not set"],
  ])(
    "blocks a backup bucket with versioning %s and no retention policy",
    (_c, versioning, shown) => {
      const props = { ...compliantBackupBucket(), retentionPolicy: undefined, versioning };
      expect(messages(policy, BUCKET, props, { name: "backups" })).toEqual([
        `Bucket "backups" is the backup bucket but keeps no previous versions: versioning is ${shown} and there is no retentionPolicy. Set versioning { enabled: true } (or a retentionPolicy, which Cloud Storage allows instead of it).`,
      ]);
    },
  );

  test("leaves buckets that are not labelled purpose: backups alone", () => {
    const props = { ...compliantBackupBucket(), labels: LABELS, retentionPolicy: undefined };
    expect(messages(policy, BUCKET, props)).toEqual([]);
  });
});
