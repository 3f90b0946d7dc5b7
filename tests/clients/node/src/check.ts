// Prints "ok: <what>" per passed check and exits non-zero on the first failed one; the
// driving test counts the ok lines so that a skipped check fails too.
export function check(cond: unknown, what: string): void {
  if (!cond) {
    console.error(`FAIL: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

export function env(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
}

/** What the demo origin echoes back: the request it received. */
export interface Echo {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | undefined>;
}

/** Runs `main`, turning any exception into a FAIL line and exit code 1. */
export function run(main: () => Promise<void>, done: string): void {
  main().then(
    () => console.log(done),
    (e: unknown) => {
      console.error("FAIL:", e);
      process.exit(1);
    },
  );
}
