/** What an encrypted secret of a `pulumi stack export` (no plaintext) evaluates as. */
export const ENCRYPTED_SECRET_TEXT = "[secret]";
