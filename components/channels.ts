/**
 * Who alerts reach, derived from the stage's contact list: an e-mail channel per on-call
 * person and owner, an SMS channel per on-call person with a phone, and one chat webhook when
 * the stage configures one. SMS is for urgent alerts only (CRITICAL and ERROR); e-mail and
 * chat get every alert.
 */

/** A contact as `config.ts` validated it. */
export interface Contact {
  name: string;
  email: string;
  role: "on-call" | "owner" | "developer" | "support";
  phone?: string;
}

/** One notification channel of the stage, before it becomes a resource. */
export interface ChannelSpec {
  /** Stable key: the resource name derives from it. */
  key: string;
  type: "email" | "sms" | "webhook_tokenauth";
  displayName: string;
  /** Non-secret labels. The webhook's URL is secret and added by the component. */
  labels: Record<string, string>;
  /** `urgent` channels receive CRITICAL and ERROR alerts only. */
  receives: "all" | "urgent";
}

/** The roles whose people are notified; the others are only listed in the handbook. */
export const NOTIFIED_ROLES: readonly Contact["role"][] = ["on-call", "owner"];

/** A resource-name-safe slug of an e-mail's local part: "marina.souza@x" -> "marina-souza". */
export function contactSlug(email: string): string {
  return email
    .split("@")[0]
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/**
 * The channels of a stage. A person listed twice is notified once; `hasChatWebhook` adds the
 * chat channel (its URL is a secret, so it is not part of this plain description).
 */
export function channelSpecs(contacts: readonly Contact[], hasChatWebhook: boolean): ChannelSpec[] {
  const specs: ChannelSpec[] = [];
  const seen = new Set<string>();
  for (const contact of contacts) {
    const address = contact.email.toLowerCase();
    if (!NOTIFIED_ROLES.includes(contact.role) || seen.has(address)) {
      continue;
    }
    seen.add(address);
    const slug = contactSlug(address);
    specs.push({
      key: `email-${slug}`,
      type: "email",
      displayName: `${contact.name} (${contact.role}) e-mail`,
      labels: { email_address: address },
      receives: "all",
    });
    if (contact.role === "on-call" && contact.phone) {
      specs.push({
        key: `sms-${slug}`,
        type: "sms",
        displayName: `${contact.name} (on-call) SMS`,
        labels: { number: contact.phone },
        receives: "urgent",
      });
    }
  }
  if (hasChatWebhook) {
    specs.push({
      key: "chat",
      type: "webhook_tokenauth",
      displayName: "Team chat webhook",
      labels: {},
      receives: "all",
    });
  }
  return specs;
}

/** The channel keys an alert of the given urgency goes to. */
export function channelKeysFor(specs: readonly ChannelSpec[], urgent: boolean): string[] {
  return specs.filter((spec) => urgent || spec.receives === "all").map((spec) => spec.key);
}
