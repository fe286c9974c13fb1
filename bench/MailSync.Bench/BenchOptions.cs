using System.Globalization;

namespace MailSync.Bench;

/// <summary>Command-line options of the benchmark (bench/run.sh passes them through).</summary>
internal sealed class BenchOptions
{
    /// <summary>"mailsync-sync" is MailSync's two-way sync mode: the peer to compare with interimap, which syncs both ways too.</summary>
    public static readonly string[] AllTools = ["mailsync", "mailsync-sync", "mbsync", "interimap"];

    public int Messages { get; private set; } = 10_000;
    public int Runs { get; private set; } = 3;
    public List<int> Scale { get; private set; } = [2_000, 10_000, 50_000];
    public int ScaleRuns { get; private set; } = 3;
    public List<string> Tools { get; } = [];
    public bool Quick { get; private set; }
    public bool Keep { get; private set; }
    public bool Memory { get; private set; } = true;
    public int MemoryMessageMb { get; private set; } = 40;
    public int Seed { get; private set; } = 20_250_601;
    public string? MailSyncPath { get; private set; }

    /// <summary>An earlier mailsync build measured beside the current one (bench/run.sh --baseline REV), or null.</summary>
    public string? BaselinePath { get; private set; }
    public string? WorkDir { get; private set; }
    public string? TemplatePath { get; private set; }
    public string? OutPath { get; private set; }
    public int TimeoutMinutes { get; private set; } = 30;
    public int MaxConnections { get; private set; } = 4;

    public const string Usage = """
        usage: mailsync-bench --mailsync PATH [options]
          --mailsync PATH       the published mailsync binary (bench/run.sh builds it)
          --baseline PATH       an earlier mailsync build, measured in the same run as one more peer
          --messages N          corpus size for the main scenarios (default 10000)
          --runs R              repetitions per tool and scenario; the median is reported (default 3)
          --scale LIST          no-op scaling series, e.g. 2000,10000,50000 (default); --no-scale to skip
          --scale-runs R        no-op repetitions per N in the scale series (default 3)
          --only TOOL           mailsync | mbsync | interimap; repeatable or a comma list (default: all)
          --no-memory           skip the memory case (three 40 MB messages)
          --memory-mb M         size of each message in the memory case (default 40)
          --quick               smoke test: N=1000, 1 run, no scale series, memory case with 4 MB messages
          --seed S              corpus seed (default 20250601)
          --max-connections C   mailsync's maxConnections per account (default 4)
          --timeout MIN         a tool run taking longer is killed and recorded as failed (default 30)
          --workdir DIR         where Dovecot and all mail live (default: a new dir under /dev/shm)
          --template PATH       Dovecot config template (default: the copy beside the binary)
          --out FILE            also write the Markdown table here (bench/run.sh: bench/results/<time>.md)
          --keep                keep the work dir (Dovecot is stopped anyway)
        """;

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        int? messages = null, runs = null;
        bool? memory = null;
        List<int>? scale = null;
        int? memoryMb = null;
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
            int NextInt(int min) =>
                int.TryParse(Next(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= min
                    ? v : throw new ArgumentException($"{a} needs a whole number >= {min}");
            switch (a)
            {
                case "--mailsync": o.MailSyncPath = Path.GetFullPath(Next()); break;
                case "--baseline": o.BaselinePath = Path.GetFullPath(Next()); break;
                case "--messages": messages = NextInt(10); break;
                case "--runs": runs = NextInt(1); break;
                case "--scale":
                    scale = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= 10
                            ? v : throw new ArgumentException($"--scale: bad count \"{s}\""))];
                    break;
                case "--no-scale": scale = []; break;
                case "--scale-runs": o.ScaleRuns = NextInt(1); break;
                case "--only":
                    foreach (var t in Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        var name = t.ToLowerInvariant();
                        if (!AllTools.Contains(name)) throw new ArgumentException($"--only: unknown tool \"{t}\" (mailsync, mbsync, interimap)");
                        if (!o.Tools.Contains(name)) o.Tools.Add(name);
                    }
                    break;
                case "--no-memory": memory = false; break;
                case "--memory-mb": memoryMb = NextInt(1); break;
                case "--quick": o.Quick = true; break;
                case "--keep": o.Keep = true; break;
                case "--seed": o.Seed = NextInt(0); break;
                case "--max-connections": o.MaxConnections = NextInt(1); break;
                case "--timeout": o.TimeoutMinutes = NextInt(1); break;
                case "--workdir": o.WorkDir = Path.GetFullPath(Next()); break;
                case "--template": o.TemplatePath = Path.GetFullPath(Next()); break;
                case "--out": o.OutPath = Path.GetFullPath(Next()); break;
                case "-h" or "--help": throw new HelpRequested();
                default: throw new ArgumentException($"unknown option {a}");
            }
        }

        if (o.Quick)
        {
            o.Messages = 1_000;
            o.Runs = 1;
            o.Scale = [];
            o.ScaleRuns = 1;
            o.MemoryMessageMb = 4;
        }

        // Explicit options win over --quick.
        if (messages is { } m) o.Messages = m;
        if (runs is { } r) o.Runs = r;
        if (scale is not null) o.Scale = scale;
        if (memory is { } mem) o.Memory = mem;
        if (memoryMb is { } mb) o.MemoryMessageMb = mb;
        if (o.Tools.Count == 0) o.Tools.AddRange(AllTools);
        // Keep the canonical order so tables read the same way every time.
        var ordered = AllTools.Where(o.Tools.Contains).ToList();
        o.Tools.Clear();
        o.Tools.AddRange(ordered);
        if ((o.Tools.Contains("mailsync") || o.Tools.Contains("mailsync-sync")) && o.MailSyncPath is null)
            throw new ArgumentException("--mailsync PATH is required (or use --only without mailsync)");
        // An earlier build is measured right after the current one, as one more peer: its ratio
        // column is "before -> after" from the same run.
        if (o.BaselinePath is not null)
            o.Tools.Insert(o.Tools.Contains("mailsync") ? o.Tools.IndexOf("mailsync") + 1 : 0, "mailsync-baseline");
        return o;
    }
}

internal sealed class HelpRequested : Exception;
