/**
 * The standalone replica server's command line (`apps/replica`): flags and `ZAB_*`
 * environment variables to replica options. Pure (argv and env in, a result out; no I/O, no
 * exit), so it is tested with tables. A flag wins over its environment variable; an empty
 * environment variable counts as unset. Every problem is reported at once, each naming the
 * flag or variable it came from.
 */
import {
  ReplicaConfigurationError,
  replicaOptionWarnings,
  resolveReplicaOptions,
  type ReplicaOptions,
} from './replica-options.js';

export type ReplicaCommandLine =
  | { kind: 'help'; text: string }
  | { kind: 'run'; options: ReplicaOptions; warnings: string[] }
  | { kind: 'invalid'; problems: string[] };

type OptionName =
  | 'id' | 'ensemble' | 'dataDir' | 'adminPort' | 'adminHost' | 'secret' | 'tickMs'
  | 'zabTickMs' | 'superDigest'
  | 'role' | 'clientPort' | 'clientHost' | 'ensembleState';

interface Setting {
  flag: string;
  env: string;
  option: OptionName;
  integer: boolean;
  example: string;
}

function setting(flag: string, option: OptionName, integer: boolean, example: string): Setting {
  const env = 'ZAB_' + flag.slice(2).toUpperCase().replaceAll('-', '_');
  return { flag, env, option, integer, example };
}

/** Each flag and its variable (`--data-dir` and `ZAB_DATA_DIR`). */
const SETTINGS: readonly Setting[] = [
  setting('--id', 'id', true, '1'),
  setting('--ensemble', 'ensemble', false, '1=127.0.0.1:2888'),
  setting('--data-dir', 'dataDir', false, './.zab/1'),
  setting('--admin-port', 'adminPort', true, '8081'),
  setting('--admin-host', 'adminHost', false, '127.0.0.1'),
  setting('--secret', 'secret', false, 'S3cr3t...'),
  setting('--tick-ms', 'tickMs', true, '2000'),
  setting('--zab-tick-ms', 'zabTickMs', true, '50'),
  setting('--role', 'role', false, 'observer'),
  setting('--super-digest', 'superDigest', false, 'super:base64sha1'),
  setting('--client-port', 'clientPort', true, '2181'),
  setting('--client-host', 'clientHost', false, '0.0.0.0'),
  setting('--ensemble-state', 'ensembleState', false, 'auto'),
];

export const REPLICA_USAGE = `Usage: npm run replica -- [flags]
Runs one nestjs-zab replica as a Nest application until SIGINT or SIGTERM.

  --id N              this server's id in the ensemble (ZAB_ID); default 1, or the id of
                      a one-member ensemble
  --ensemble LIST     members, id=host:port[:observer],... (ZAB_ENSEMBLE), e.g.
                      1=127.0.0.1:2888,2=127.0.0.1:2889,3=127.0.0.1:2890; default: standalone
  --data-dir DIR      log and snapshots (ZAB_DATA_DIR); default ./.zab/<id>
  --admin-port N      serve /commands/srvr, /commands/mntr, /commands/ruok over HTTP
                      (ZAB_ADMIN_PORT); 0 picks a free port; default: no admin endpoint
  --admin-host H      address of the admin endpoint (ZAB_ADMIN_HOST); default 127.0.0.1
  --client-port N     serve ZooKeeper clients (zkCli, Curator, kazoo) on this port
                      (ZAB_CLIENT_PORT); 0 picks a free port; default: no client port
  --client-host H     address of the client port (ZAB_CLIENT_HOST); default 0.0.0.0
  --observer          join as a non-voting observer (same as --role observer; ZAB_ROLE)
  --role R            participant or observer (ZAB_ROLE); default: the role in --ensemble
  --ensemble-state S  when a member with an empty data directory votes
                      (ZAB_ENSEMBLE_STATE): auto (default: once every other voter is
                      seen empty too), existing (only after a leader synced it), new (at
                      once, as ZooKeeper; unsafe after a disk wipe)
  --secret S          shared peer secret (ZAB_SECRET; prefer the variable: command lines
                      are visible to other users)
  --super-digest D    superuser digest super:base64(sha1(super:password))
                      (ZAB_SUPER_DIGEST); a session that adds auth digest super:password
                      passes every ACL check; default: no superuser
  --tick-ms N         ZooKeeper's tickTime in ms (ZAB_TICK_MS); default 2000
  --zab-tick-ms N     tick of the Zab protocol (election, sync, lease) in ms
                      (ZAB_ZAB_TICK_MS); default 25
  -h, --help          print this help

Flags win over environment variables; empty variables count as unset. Configuration
mistakes exit with code 2. A one-member ensemble runs standalone.
`;

/** A setting's value and where it came from (a flag or a variable name; never the value). */
interface Given {
  value: string;
  source: string;
}

/** Parses flags and environment variables into validated replica options. */
export function parseReplicaCommandLine(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ReplicaCommandLine {
  if (argv.includes('--help') || argv.includes('-h')) return { kind: 'help', text: REPLICA_USAGE };
  const problems: string[] = [];
  const warnings: string[] = [];
  const given = readFlags(argv, problems);
  for (const setting of SETTINGS) {
    const value = env[setting.env];
    if (!given.has(setting.option) && value !== undefined && value !== '') {
      given.set(setting.option, { value, source: setting.env });
    }
  }
  const known = new Set(SETTINGS.map((s) => s.env));
  for (const name of Object.keys(env)) {
    if (name.startsWith('ZAB_') && !known.has(name)) {
      warnings.push(
        `ignoring unknown environment variable ${name}; known: ${[...known].join(', ')}`,
      );
    }
  }
  const input: Record<string, string | number> = {};
  for (const setting of SETTINGS) {
    const entry = given.get(setting.option);
    if (entry === undefined) continue;
    if (!setting.integer) {
      input[setting.option] = entry.value;
    } else if (/^\d{1,15}$/.test(entry.value.trim())) {
      input[setting.option] = Number(entry.value.trim());
    } else {
      problems.push(
        `${entry.source}: ${JSON.stringify(entry.value)} is not a whole number; ` +
          `e.g. ${setting.flag} ${setting.example}`,
      );
    }
  }
  if (problems.length > 0) return { kind: 'invalid', problems };
  try {
    // apps/replica runs its replica on the main thread, where several members run under the
    // ensemble driver (EnsembleReplica): no worker-isolation refusal applies.
    const options = resolveReplicaOptions(input);
    return { kind: 'run', options, warnings: [...warnings, ...replicaOptionWarnings(options)] };
  } catch (error) {
    if (!(error instanceof ReplicaConfigurationError)) throw error;
    return { kind: 'invalid', problems: error.problems.map((p) => withSource(p, given)) };
  }
}

/** Reads `--flag value`, `--flag=value` and `--observer`; each flag at most once. */
function readFlags(argv: readonly string[], problems: string[]): Map<OptionName, Given> {
  const given = new Map<OptionName, Given>();
  const set = (option: OptionName, entry: Given, flag: string): void => {
    const earlier = given.get(option);
    if (earlier !== undefined) {
      problems.push(`${flag} conflicts with ${earlier.source} given before it; give it once`);
      return;
    }
    given.set(option, entry);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    if (flag === '--observer') {
      if (inline === undefined) set('role', { value: 'observer', source: '--observer' }, flag);
      else problems.push('--observer takes no value (it means --role observer)');
      continue;
    }
    const setting = SETTINGS.find((s) => s.flag === flag);
    if (setting === undefined) {
      problems.push(arg.startsWith('-')
        ? `unknown flag ${flag}; see --help for the flags`
        // The value is not echoed: it may be a secret after a mistyped --secret.
        : `unexpected argument at position ${i + 1} (not shown, it may be a secret); ` +
          `every setting is a flag such as --data-dir DIR (see --help)`);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        problems.push(`${flag} needs a value, e.g. ${flag} ${setting.example}`);
        continue;
      }
      value = next;
      i += 1;
    }
    set(setting.option, { value, source: flag }, flag);
  }
  return given;
}

/** Prefixes a validation problem with the flag or variable that set the option it names. */
function withSource(problem: string, given: Map<OptionName, Given>): string {
  const first = /^[A-Za-z]+/.exec(problem)?.[0];
  const option = SETTINGS.find((s) => s.option === first)?.option;
  const entry = option === undefined ? undefined : given.get(option);
  if (entry === undefined) return problem;
  return `${entry.source}: ${problem}`;
}
