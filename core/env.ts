/** Reads configuration from environment variables without ever prompting for permission. */

/** The variable's value, or undefined when unset or when env access is not granted. */
export function envFlag(name: string): string | undefined {
  try {
    const state = Deno.permissions.querySync({ name: "env", variable: name }).state;
    return state === "granted" ? Deno.env.get(name) : undefined;
  } catch {
    return undefined;
  }
}
