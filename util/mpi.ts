/**
 * A small binding to the system's MPI library through Deno's FFI, for data-parallel training
 * launched by `mpirun` / `srun`: init and finalize, rank and size, barrier, broadcast, sum
 * all-reduce of `float32` / `float64` buffers, all-gather of small byte records, abort.
 *
 * Two ABIs are known: Open MPI's (`libmpi.so.40`, Debian's `libopenmpi3`; handles are pointers
 * to the library's predefined objects, found with `dlsym`) and MPICH's (`libmpich.so.12` /
 * `libmpi.so.12`; handles are integer constants). The launcher's own library is tried first. `MEDDIFF_MPI_LIB` names another library file; `MEDDIFF_MPI_ABI`
 * (`openmpi` | `mpich`) says which ABI it has when its name does not.
 *
 * Collectives that wait for other ranks run on a worker thread (`nonblocking` FFI calls), so the
 * event loop keeps turning (signal listeners run) and a collective that does not finish within
 * `timeoutSeconds` ends the job with a clear error instead of hanging when a rank has died.
 *
 * Nothing here is loaded unless a launcher started this process ({@linkcode launchedWorld}).
 * @module
 */

/** Rank and size as the launcher's environment gives them (for logging before MPI starts). */
export interface LaunchedWorld {
  /** This process's rank. */
  rank: number;
  /** Number of processes. */
  size: number;
  /** The launcher the variables came from. */
  launcher: "openmpi" | "mpich" | "slurm";
}

/**
 * The world a launcher started this process in, read from its environment: Open MPI's
 * `OMPI_COMM_WORLD_RANK`/`_SIZE`, MPICH's (Hydra) `PMI_RANK`/`PMI_SIZE`, or Slurm's `srun`
 * (`SLURM_PROCID`/`SLURM_STEP_NUM_TASKS`, only inside a job step, so a batch script's own
 * process is not taken for a rank). Null when none did.
 */
export function launchedWorld(env: (name: string) => string | undefined = Deno.env.get): LaunchedWorld | null {
  const pair = (r: string, s: string, launcher: LaunchedWorld["launcher"]): LaunchedWorld | null => {
    const rank = env(r), size = env(s);
    if (rank === undefined || size === undefined) return null;
    const out = { rank: Number(rank), size: Number(size), launcher };
    if (!Number.isInteger(out.rank) || !Number.isInteger(out.size) || out.rank < 0 || out.rank >= out.size) {
      throw new Error(`the launcher's ${r}=${rank} / ${s}=${size} are not a rank within a world size`);
    }
    return out;
  };
  return pair("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "openmpi") ??
    pair("PMI_RANK", "PMI_SIZE", "mpich") ??
    (env("SLURM_STEP_ID") !== undefined ? pair("SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "slurm") : null);
}

/** Raised when a collective does not finish in time (a rank died or hangs). */
export class CollectiveTimeoutError extends Error {
  constructor(what: string, seconds: number, rank: number, size: number) {
    super(
      `rank ${rank} of ${size}: ${what} did not finish within ${seconds} s — another rank has probably died or ` +
        `stopped; ending the job (MEDDIFF_MPI_TIMEOUT sets the limit)`,
    );
    this.name = "CollectiveTimeoutError";
  }
}

const OPENMPI_LIBS = ["libmpi.so.40"];
const MPICH_LIBS = ["libmpich.so.12", "libmpi.so.12"]; // Debian's name, and MPICH's own
const MPI_THREAD_MULTIPLE = 3; // the same in both ABIs
const RTLD_NOW = 2, RTLD_GLOBAL = 0x100;

type Abi = "openmpi" | "mpich";
type Handle = Deno.PointerValue | number;
/** The MPI calls used, as bound (collectives return promises: they run on a worker thread). */
interface MpiFunctions {
  MPI_Init_thread(argc: null, argv: null, required: number, provided: Int32Array): number;
  MPI_Initialized(flag: Int32Array): number;
  MPI_Finalize(): number;
  MPI_Comm_rank(comm: Handle, out: Int32Array): number;
  MPI_Comm_size(comm: Handle, out: Int32Array): number;
  MPI_Abort(comm: Handle, code: number): number;
  MPI_Barrier(comm: Handle): Promise<number>;
  MPI_Bcast(data: Uint8Array, count: number, type: Handle, root: number, comm: Handle): Promise<number>;
  MPI_Allreduce(
    send: Deno.PointerValue,
    recv: Float32Array | Float64Array,
    count: number,
    type: Handle,
    op: Handle,
    comm: Handle,
  ): Promise<number>;
  MPI_Allgather(
    send: Uint8Array,
    sendCount: number,
    sendType: Handle,
    recv: Uint8Array,
    recvCount: number,
    recvType: Handle,
    comm: Handle,
  ): Promise<number>;
}
/** The ABI's handles: Open MPI's are addresses (bigint), MPICH's 32-bit integers. */
interface Handles {
  comm: Handle;
  float: Handle;
  double: Handle;
  byte: Handle;
  sum: Handle;
  inPlace: Deno.PointerValue;
}

function symbols(abi: Abi) {
  const h = abi === "openmpi" ? "pointer" as const : "i32" as const;
  return {
    MPI_Init_thread: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
    MPI_Initialized: { parameters: ["buffer"], result: "i32" },
    MPI_Finalize: { parameters: [], result: "i32" },
    MPI_Comm_rank: { parameters: [h, "buffer"], result: "i32" },
    MPI_Comm_size: { parameters: [h, "buffer"], result: "i32" },
    MPI_Abort: { parameters: [h, "i32"], result: "i32" },
    MPI_Barrier: { parameters: [h], result: "i32", nonblocking: true },
    MPI_Bcast: { parameters: ["buffer", "i32", h, "i32", h], result: "i32", nonblocking: true },
    MPI_Allreduce: { parameters: ["pointer", "buffer", "i32", h, h, h], result: "i32", nonblocking: true },
    MPI_Allgather: {
      parameters: ["buffer", "i32", h, "buffer", "i32", h, h],
      result: "i32",
      nonblocking: true,
    },
  } as const;
}

/** Which ABI a library file has, from `MEDDIFF_MPI_ABI` or its name. */
function abiOf(path: string): Abi {
  const given = Deno.env.get("MEDDIFF_MPI_ABI");
  if (given === "openmpi" || given === "mpich") return given;
  if (given) throw new Error(`MEDDIFF_MPI_ABI must be openmpi or mpich, got "${given}"`);
  return /\.so\.12\b|mpich/.test(path) ? "mpich" : "openmpi";
}

/** The process's MPI: one per process, made by {@linkcode Mpi.init}. */
export class Mpi {
  /** This process's rank in MPI_COMM_WORLD. */
  readonly rank: number;
  /** Number of processes in MPI_COMM_WORLD. */
  readonly size: number;
  /** The library file loaded. */
  readonly library: string;
  /** Seconds a collective may wait before the job is ended (MEDDIFF_MPI_TIMEOUT, default 600). */
  readonly timeoutSeconds: number;
  readonly #fn: MpiFunctions;
  readonly #h: Handles;
  #finalized = false;
  static #instance: Mpi | null = null;

  private constructor(fn: MpiFunctions, h: Handles, library: string) {
    this.#fn = fn;
    this.#h = h;
    this.library = library;
    const rank = new Int32Array(1), size = new Int32Array(1);
    this.#check(fn.MPI_Comm_rank(h.comm, rank), "MPI_Comm_rank");
    this.#check(fn.MPI_Comm_size(h.comm, size), "MPI_Comm_size");
    this.rank = rank[0];
    this.size = size[0];
    const t = Number(Deno.env.get("MEDDIFF_MPI_TIMEOUT") ?? 600);
    if (!(t > 0)) throw new Error(`MEDDIFF_MPI_TIMEOUT must be a positive number of seconds, got "${t}"`);
    this.timeoutSeconds = t;
  }

  /**
   * Loads the MPI library (`MEDDIFF_MPI_LIB`, else the launcher's own: Open MPI's or MPICH's) and initialises it
   * (thread level MULTIPLE: collectives run on worker threads). Idempotent.
   */
  static init(): Mpi {
    if (Mpi.#instance) return Mpi.#instance;
    const given = Deno.env.get("MEDDIFF_MPI_LIB");
    // The launcher's own library first: MPICH's Hydra sets PMI_*, Open MPI's mpirun OMPI_*.
    const mpichFirst = launchedWorld()?.launcher === "mpich";
    const candidates = given
      ? [given]
      : mpichFirst
      ? [...MPICH_LIBS, ...OPENMPI_LIBS]
      : [...OPENMPI_LIBS, ...MPICH_LIBS];
    const failures: string[] = [];
    for (const path of candidates) {
      try {
        Mpi.#instance = Mpi.#open(path, abiOf(path));
        return Mpi.#instance;
      } catch (e) {
        failures.push(`${path}: ${e instanceof Error ? e.message : e}`);
      }
    }
    throw new Error(
      `this process was started by an MPI launcher, but no MPI library could be loaded (${failures.join("; ")}). ` +
        `Install Open MPI (Debian: apt-get install openmpi-bin libopenmpi3) or MPICH (apt-get install mpich), ` +
        `or set MEDDIFF_MPI_LIB to your libmpi.so`,
    );
  }

  static #open(path: string, abi: Abi): Mpi {
    // Open MPI loads its components with dlopen and needs its own symbols global: load it
    // RTLD_GLOBAL through libc first (Deno.dlopen loads RTLD_LOCAL), then bind to the same handle.
    const libc = Deno.dlopen("libc.so.6", {
      dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
      dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
      dlerror: { parameters: [], result: "pointer" },
    });
    try {
      const cstr = (s: string) => new TextEncoder().encode(s + "\0");
      const handle = libc.symbols.dlopen(cstr(path), RTLD_NOW | RTLD_GLOBAL);
      if (handle === null) {
        const err = libc.symbols.dlerror();
        throw new Error(err ? Deno.UnsafePointerView.getCString(err) : "not found");
      }
      // The two ABIs differ only in the handles' type; both bind to the same call shapes.
      const lib = Deno.dlopen(path, symbols(abi)).symbols as unknown as MpiFunctions;
      let h: Handles;
      if (abi === "openmpi") {
        const sym = (name: string): Deno.PointerValue => {
          const p = libc.symbols.dlsym(handle, cstr(name));
          if (p === null) throw new Error(`${name} is missing: not an Open MPI library`);
          return p;
        };
        h = {
          comm: sym("ompi_mpi_comm_world"),
          float: sym("ompi_mpi_float"),
          double: sym("ompi_mpi_double"),
          byte: sym("ompi_mpi_byte"),
          sum: sym("ompi_mpi_op_sum"),
          inPlace: Deno.UnsafePointer.create(1n),
        };
      } else {
        h = {
          comm: 0x44000000,
          float: 0x4c00040a,
          double: 0x4c00080b,
          byte: 0x4c00010d,
          sum: 0x58000003,
          inPlace: null,
        };
        h.inPlace = Deno.UnsafePointer.create(0xffffffffffffffffn); // (void *) -1
      }
      const initialized = new Int32Array(1);
      lib.MPI_Initialized(initialized);
      if (!initialized[0]) {
        const provided = new Int32Array(1);
        const rc = lib.MPI_Init_thread(null, null, MPI_THREAD_MULTIPLE, provided);
        if (rc !== 0) throw new Error(`MPI_Init_thread failed (error ${rc})`);
      }
      return new Mpi(lib, h, path);
    } finally {
      libc.close();
    }
  }

  #check(rc: number, what: string): void {
    if (rc !== 0) throw new Error(`rank ${this.rank ?? "?"}: ${what} failed (MPI error ${rc})`);
  }

  /**
   * Awaits a collective with the timeout (unless `timed` is false); on timeout the job is aborted
   * (other ranks cannot be trusted).
   */
  async #collective(what: string, call: Promise<number>, timed = true): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      if (!timed) return;
      timer = setTimeout(
        () => reject(new CollectiveTimeoutError(what, this.timeoutSeconds, this.rank, this.size)),
        this.timeoutSeconds * 1000,
      );
    });
    try {
      this.#check(await Promise.race([call, timeout]), what);
    } catch (e) {
      if (e instanceof CollectiveTimeoutError) {
        console.error(e.message);
        this.abort(1);
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits until every rank has called it. */
  barrier(): Promise<void> {
    return this.#collective("barrier", this.#fn.MPI_Barrier(this.#h.comm));
  }

  /**
   * Rank `root`'s bytes into `data` on every rank (the lengths must agree). `timed: false` waits
   * without the timeout: for a wait on work only the root does, however long (a validation).
   */
  broadcast(data: Uint8Array, root = 0, timed = true): Promise<void> {
    return this.#collective(
      `broadcast of ${data.byteLength} bytes`,
      this.#fn.MPI_Bcast(data, data.byteLength, this.#h.byte, root, this.#h.comm),
      timed,
    );
  }

  /** Sums `data` element-wise over the ranks, in place. */
  allReduceSum(data: Float32Array | Float64Array): Promise<void> {
    const type = data instanceof Float32Array ? this.#h.float : this.#h.double;
    return this.#collective(
      `all-reduce of ${data.length} numbers`,
      this.#fn.MPI_Allreduce(this.#h.inPlace, data, data.length, type, this.#h.sum, this.#h.comm),
    );
  }

  /** Every rank's `record` (the same length on every rank), concatenated in rank order. */
  async allGather(record: Uint8Array): Promise<Uint8Array> {
    const out = new Uint8Array(record.byteLength * this.size);
    await this.#collective(
      `all-gather of ${record.byteLength} bytes`,
      this.#fn.MPI_Allgather(
        record,
        record.byteLength,
        this.#h.byte,
        out,
        record.byteLength,
        this.#h.byte,
        this.#h.comm,
      ),
    );
    return out;
  }

  /** Ends every rank of the job now, with `code` (what a failure on one rank must do). */
  abort(code: number): never {
    this.#fn.MPI_Abort(this.#h.comm, code);
    Deno.exit(code); // not reached when the launcher honours MPI_Abort
  }

  /** Shuts MPI down (once; later calls do nothing). */
  finalize(): void {
    if (this.#finalized) return;
    this.#finalized = true;
    this.#fn.MPI_Finalize();
  }
}
