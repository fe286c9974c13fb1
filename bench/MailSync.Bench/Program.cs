using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using MailSync.Bench;

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (HelpRequested)
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine("mailsync-bench: " + e.Message);
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    Log("interrupted: stopping the current tool, Dovecot, and cleaning up");
    cts.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
{
    ctx.Cancel = true;
    cts.Cancel();
});

var workDir = options.WorkDir ?? Path.Combine(
    Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(),
    $"mailsync-bench-{Environment.ProcessId}");
var createdWorkDir = !Directory.Exists(workDir);
Directory.CreateDirectory(workDir);
// Dovecot's auth and mail processes (dovecot, nobody) must be able to walk into it.
File.SetUnixFileMode(workDir, (UnixFileMode)0b111_101_101);
var template = options.TemplatePath ?? Path.Combine(AppContext.BaseDirectory, "dovecot.conf.template");
var total = Stopwatch.StartNew();
DovecotInstance? dovecot = null;
try
{
    var bench = new Bench(options, workDir, cts.Token);
    dovecot = await DovecotInstance.StartAsync(Path.Combine(workDir, "dovecot"), template, 50, cts.Token);
    Log($"Dovecot {dovecot.Version} (pid {dovecot.Pid}) on 127.0.0.1:{dovecot.ImapPort}, state in {dovecot.Root}");
    var report = await bench.RunAsync(dovecot, total);
    Console.WriteLine();
    Console.WriteLine(report);
    if (options.OutPath is { } outPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
        await File.WriteAllTextAsync(outPath, report, CancellationToken.None);
        var jsonPath = Path.ChangeExtension(outPath, ".json");
        await File.WriteAllTextAsync(jsonPath, bench.RawJson(), CancellationToken.None);
        Log($"report written to {outPath} (every run's numbers: {jsonPath})");
    }
    Log($"benchmark completed in {total.Elapsed:hh\\:mm\\:ss}");
    return 0;
}
catch (OperationCanceledException) when (cts.IsCancellationRequested)
{
    Log("benchmark interrupted");
    return 130;
}
catch (Exception e)
{
    Console.Error.WriteLine("mailsync-bench: " + e);
    return 1;
}
finally
{
    if (dovecot is not null) await dovecot.StopAsync();
    if (!options.Keep && createdWorkDir)
    {
        try { Directory.Delete(workDir, recursive: true); }
        catch (IOException e) { Console.Error.WriteLine($"mailsync-bench: could not delete {workDir}: {e.Message}"); }
    }
    else if (options.Keep)
    {
        Log($"kept {workDir}");
    }
}

static void Log(string message) =>
    Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

namespace MailSync.Bench
{
    internal sealed class Bench(BenchOptions options, string workDir, CancellationToken ct)
    {
        private readonly Results _results = new();
        private readonly List<ITool> _tools = [];
        private DovecotInstance _dovecot = null!;
        private int _userSerial;

        private static void Log(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

        /// <summary>Every measurement, for comparing runs with a script.</summary>
        public string RawJson() => System.Text.Json.JsonSerializer.Serialize(
            new { machine = _results.Machine, scenarios = _results.ScenarioTitles, measurements = _results.All },
            new System.Text.Json.JsonSerializerOptions
            {
                WriteIndented = true,
                PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase,
                Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            });

        public async Task<string> RunAsync(DovecotInstance dovecot, Stopwatch total)
        {
            _dovecot = dovecot;
            foreach (var name in options.Tools)
            {
                _tools.Add(name switch
                {
                    "mailsync" => new MailSyncTool(options.MailSyncPath!, options.MaxConnections),
                    "mailsync-baseline" => new MailSyncTool(options.BaselinePath!, options.MaxConnections, "mailsync-baseline"),
                    "mailsync-sync" => new MailSyncTool(options.MailSyncPath!, options.MaxConnections, "mailsync-sync", mode: "sync"),
                    "mbsync" => new MbsyncTool(),
                    _ => new InterimapTool(),
                });
            }
            await DescribeMachineAsync();

            var main = new List<string>();
            if (options.Messages > 0)
            {
                await MainScenariosAsync();
                main.AddRange(["initial", "no-op", "no-op-again", "incremental"]);
            }
            string? memory = null;
            if (options.Memory)
            {
                memory = "memory";
                await MemoryCaseAsync();
            }
            var scale = new List<(int, string, string)>();
            foreach (var n in options.Scale)
            {
                await ScaleAsync(n);
                scale.Add((n, $"scale-initial-{n}", $"scale-noop-{n}"));
            }

            _results.Machine["load average (1/5/15 min)"] += ", at end " + LoadAverage() +
                " (other work on the machine shares the cores with Dovecot and the tools)";
            _results.Machine["total benchmark time"] = $"{total.Elapsed:hh\\:mm\\:ss} (including seeding and checks)";
            _results.Notes.Add("Wall time: a Stopwatch around the tool's process. Peak RSS: GNU time's %M (ru_maxrss from wait4: the tool process, " +
                               "or its largest waited-for descendant), in MiB.");
            _results.Notes.Add("msg/s and MB/s: the messages (bytes, by RFC822.SIZE) the scenario had to transfer divided by the median wall time: " +
                               "the whole corpus for the initial copy, the 1 % new messages for the incremental run (the flag changes are not counted). " +
                               "Not given for no-op runs.");
            _results.Notes.Add("Target check, over IMAP with MailKit after each timed run: every source folder must exist on the target under the same name; " +
                               "per folder the multiset of SHA-256 of the raw bytes (BODY.PEEK[], no normalisation: both sides are the same Dovecot) " +
                               "must match; for each matched message the system flags (without \\Recent), keywords (case-insensitive) and INTERNALDATE " +
                               "(to the second) must match. A no-op or incremental run is checked against the source as it is at that point. " +
                               "Hashes are cached by (folder, UIDVALIDITY, UID), so a re-check downloads only messages with new UIDs.");
            _results.Notes.Add("Source untouched: the source is compared with what it was before the tool ran, the same way (interimap syncs both ways).");
            _results.Notes.Add("Each (tool, repetition) gets a fresh source (a cp -a copy of the pristine seeded user; sdbox keeps UIDVALIDITY/UIDs/flags in its index, " +
                               "so the copy is the same IMAP state) and a fresh, empty target, then runs initial → no-op → incremental in that order. " +
                               "Tools take turns within each repetition. Dovecot, the tools and the bench share the machine's cores.");
            return _results.Render(options.Tools, main, memory, scale);
        }

        private async Task DescribeMachineAsync()
        {
            var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
            var memKb = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
            var kernel = (await Exec.CaptureAsync("uname", ["-sr"], ct)).Trim();
            var fs = (await Exec.CaptureAsync("df", ["--output=fstype", workDir], ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()?.Trim() ?? "?";
            _results.Machine["date"] = DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm zzz", CultureInfo.InvariantCulture);
            _results.Machine["machine"] = $"{Environment.ProcessorCount} cores ({cpu}), {memKb} RAM, {kernel}";
            _results.Machine["load average (1/5/15 min)"] = "at start " + LoadAverage();
            _results.Machine["mail storage"] = $"Dovecot {_dovecot.Version}, sdbox, on {fs} ({workDir}); 127.0.0.1, plain text (ssl = no) for every tool";
            var versions = new List<string>();
            foreach (var t in _tools)
            {
                string v;
                try { v = await t.VersionAsync(ct); }
                catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException) { v = $"{t.Name} (not runnable: {e.Message})"; }
                versions.Add(v);
                _results.ToolSetup[t.Name] = t.Setup;
            }
            _results.Machine["tools"] = string.Join(", ", versions);
            var floors = new List<string>();
            foreach (var t in _tools)
            {
                var times = new List<double>();
                for (var i = 0; i < 3; i++)
                {
                    var sw = Stopwatch.StartNew();
                    try { await Exec.CaptureAsync(t.Executable, ["--version"], ct, mergeStderr: true); }
                    catch (System.ComponentModel.Win32Exception) { break; }
                    times.Add(sw.Elapsed.TotalSeconds);
                }
                if (times.Count > 0) floors.Add($"{t.Name} {times.Order().ElementAt(times.Count / 2):F3} s");
            }
            _results.Machine["process start-up floor"] = string.Join(", ", floors) + " (median of 3 × `--version`: part of every wall time, most visible in the no-op runs)";
            _results.Machine["options"] = $"--messages {options.Messages} --runs {options.Runs} --scale {(options.Scale.Count > 0 ? string.Join(',', options.Scale) : "none")} " +
                                          $"--scale-runs {options.ScaleRuns} --memory {(options.Memory ? options.MemoryMessageMb + " MB" : "off")} --seed {options.Seed}";
            Log("machine: " + _results.Machine["machine"]);
            Log("tools: " + _results.Machine["tools"]);
        }

        private static string LoadAverage() =>
            string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

        private string NewUser(string prefix) => $"{prefix}{++_userSerial:D3}";

        /// <summary>Seeds a pristine user and takes its full snapshot (the reference for every run).</summary>
        private async Task<(string User, MailboxState State, HashCache Cache)> SeedPristineAsync(string label, List<MessagePlan> plans, IEnumerable<string> folders)
        {
            var user = NewUser("pristine-" + label + "-");
            _dovecot.AddUser(user);
            var bytes = 0L;
            var sw = Stopwatch.StartNew();
            Log($"seeding {user}: {plans.Count:N0} messages …");
            var lastReport = Stopwatch.StartNew();
            var generated = await Imap.SeedAsync(_dovecot.ImapPort, user, folders, plans, ct, done =>
            {
                if (lastReport.Elapsed.TotalSeconds >= 10)
                {
                    Log($"  seeded {done:N0}/{plans.Count:N0}");
                    lastReport.Restart();
                }
            });
            var cache = new HashCache();
            var state = await Imap.SnapshotAsync(_dovecot.ImapPort, user, cache, ct);
            bytes = state.Bytes;
            // Seed fidelity: what Dovecot holds is byte for byte what the generator made.
            var stored = state.Folders.Values.SelectMany(f => f.Messages).Select(m => m.Sha256).ToHashSet();
            var lost = generated.Keys.Count(h => !stored.Contains(h));
            if (lost > 0 || state.MessageCount != plans.Count)
                throw new InvalidOperationException($"seeding {user}: {state.MessageCount} stored of {plans.Count}, {lost} not byte-identical to the generator");
            Log($"seeded {user}: {state.MessageCount:N0} messages, {bytes / 1048576.0:F0} MB, {state.Folders.Count} folders in {sw.Elapsed.TotalSeconds:F0} s " +
                $"(disk {_dovecot.DiskBytesOf(user) / 1048576.0:F0} MB)");
            return (user, state, cache);
        }

        private sealed record ToolRun(ITool Tool, string RunDir, string Source, string Target, ToolCommand Command, HashCache SourceCache, HashCache TargetCache);

        private async Task<ToolRun> PrepareRunAsync(ITool tool, string label, int rep, string pristine, HashCache pristineCache)
        {
            var runDir = Path.Combine(workDir, "runs", $"{label}-{tool.Name}-r{rep}");
            Directory.CreateDirectory(runDir);
            var source = NewUser($"src-{tool.Name}-");
            var target = NewUser($"dst-{tool.Name}-");
            await _dovecot.CloneUserAsync(pristine, source, ct);
            _dovecot.AddUser(target);
            var command = tool.Prepare(runDir, _dovecot.ImapPort, source, target, _dovecot.PasswordFile);
            return new ToolRun(tool, runDir, source, target, command, pristineCache.Copy(), new HashCache());
        }

        private async Task<Measurement> TimedAsync(ToolRun run, string scenario, int rep, MailboxState expected, int messages, long bytes, bool checkTarget = true)
        {
            var prefix = Path.Combine(run.RunDir, scenario);
            RunOutcome outcome;
            try
            {
                outcome = await Exec.TimedAsync(run.Command.File, run.Command.Args, prefix, TimeSpan.FromMinutes(options.TimeoutMinutes), run.Command.Env, ct);
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                await File.WriteAllTextAsync(prefix + ".err", e.Message, ct);
                outcome = new RunOutcome(127, 0, 0, prefix + ".out", prefix + ".err", false);
            }
            Correctness? target = null;
            if (checkTarget)
            {
                target = await CheckAsync(run.Target, run.TargetCache, expected);
                if (target.FirstBytesPair is { } pair)
                {
                    try
                    {
                        target.BytesExplanation = await Imap.ExplainDifferenceAsync(
                            _dovecot.ImapPort, run.Source, run.Target, pair.Folder, pair.ExpectedUid, pair.ActualUid, ct);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        target.BytesExplanation = "could not compare headers: " + e.Message;
                    }
                }
            }
            var source = await CheckAsync(run.Source, run.SourceCache, expected);
            var m = new Measurement(scenario, run.Tool.Name, rep, outcome, messages, bytes, target, source);
            _results.All.Add(m);
            Log($"  {run.Tool.Name,-9} {scenario,-18} run {rep}: {(outcome.Ok ? $"{outcome.WallSeconds:F2} s" : outcome.FailureText())}, " +
                $"RSS {outcome.PeakRssKb / 1024.0:F0} MB, target {target?.Summary() ?? "not checked"}" +
                (target?.BytesExplanation is { } why ? $" ({why})" : "") + $", source {(source.Ok ? "untouched" : "CHANGED: " + source.Summary())}");
            return m;
        }

        /// <summary>A failed check (the mailbox could not be read) is recorded, not fatal.</summary>
        private async Task<Correctness> CheckAsync(string user, HashCache cache, MailboxState expected)
        {
            try
            {
                return Verify.Compare(expected, await Imap.SnapshotAsync(_dovecot.ImapPort, user, cache, ct));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return new Correctness { Error = $"{e.GetType().Name}: {e.Message}" };
            }
        }

        private void Cleanup(ToolRun run)
        {
            _dovecot.DeleteUser(run.Source);
            _dovecot.DeleteUser(run.Target);
        }

        private async Task MainScenariosAsync()
        {
            var n = options.Messages;
            var plans = Corpus.Plan(options.Seed, n, CorpusMix.Realistic, Corpus.CorpusStart, Corpus.CorpusEnd);
            var (pristine, state, cache) = await SeedPristineAsync($"{n}", plans, Corpus.Folders.Select(f => f.Name));
            var delta = Math.Max(1, n / 100);
            var additions = Corpus.Plan(options.Seed + 1, delta, CorpusMix.NoLarge, Corpus.CorpusEnd, Corpus.CorpusEnd.AddDays(30));
            var large = plans.Count(p => p.Class == SizeClass.Large);
            var medium = plans.Count(p => p.Class == SizeClass.Medium);
            _results.ScenarioTitles["initial"] =
                $"initial copy of {n:N0} messages, {state.Bytes / 1048576.0:F0} MB in {state.Folders.Count} folders " +
                $"({n - medium - large:N0} of 2–30 KB, {medium:N0} of 100 KB–2 MB with attachments, {large} over 10 MB; " +
                "\\Seen on ~85 %, some \\Answered, \\Flagged, \\Draft, 8 keywords; nested folders, one non-ASCII name, one empty parent) into an empty target";
            _results.ScenarioTitles["no-op"] = "the same command again, nothing changed";
            _results.ScenarioTitles["no-op-again"] =
                "the same command a third time, nothing changed (mailsync-sync lists the folders its previous run wrote to once more, so this is its steady-state no-op)";
            _results.ScenarioTitles["incremental"] =
                $"after appending {delta:N0} new messages (1 %) to the source and changing flags/keywords on {delta:N0} existing ones (1 %, spread over the folders)";

            for (var rep = 1; rep <= options.Runs; rep++)
            {
                foreach (var tool in _tools)
                {
                    Log($"main {n:N0}: {tool.Name} run {rep}/{options.Runs}");
                    var run = await PrepareRunAsync(tool, $"main{n}", rep, pristine, cache);
                    await TimedAsync(run, "initial", rep, state, state.MessageCount, state.Bytes);
                    await TimedAsync(run, "no-op", rep, state, 0, 0);
                    await TimedAsync(run, "no-op-again", rep, state, 0, 0);
                    await Imap.MutateAsync(_dovecot.ImapPort, run.Source, additions, delta, options.Seed + 2, ct);
                    var mutated = await Imap.SnapshotAsync(_dovecot.ImapPort, run.Source, run.SourceCache, ct);
                    var added = mutated.MessageCount - state.MessageCount;
                    await TimedAsync(run, "incremental", rep, mutated, added, mutated.Bytes - state.Bytes);
                    if (!options.Keep) Cleanup(run);
                }
            }
            if (!options.Keep) _dovecot.DeleteUser(pristine);
        }

        private async Task MemoryCaseAsync()
        {
            var mb = options.MemoryMessageMb;
            var plans = Enumerable.Range(0, 3).Select(i => Corpus.HugePlan(options.Seed + 3, i, mb)).ToList();
            var (pristine, state, cache) = await SeedPristineAsync("mem", plans, ["INBOX"]);
            _results.ScenarioTitles["memory"] = $"initial copy of one folder holding three {mb} MB messages ({state.Bytes / 1048576.0:F0} MB)";
            for (var rep = 1; rep <= options.Runs; rep++)
            {
                foreach (var tool in _tools)
                {
                    Log($"memory case: {tool.Name} run {rep}/{options.Runs}");
                    var run = await PrepareRunAsync(tool, "memory", rep, pristine, cache);
                    await TimedAsync(run, "memory", rep, state, state.MessageCount, state.Bytes);
                    if (!options.Keep) Cleanup(run);
                }
            }
            if (!options.Keep) _dovecot.DeleteUser(pristine);
        }

        private async Task ScaleAsync(int n)
        {
            var plans = Corpus.Plan(options.Seed + 10 + n, n, CorpusMix.SmallOnly, Corpus.CorpusStart, Corpus.CorpusEnd);
            var (pristine, state, cache) = await SeedPristineAsync($"scale{n}", plans, Corpus.Folders.Select(f => f.Name));
            foreach (var tool in _tools)
            {
                Log($"scale {n:N0}: {tool.Name}");
                var run = await PrepareRunAsync(tool, $"scale{n}", 1, pristine, cache);
                await TimedAsync(run, $"scale-initial-{n}", 1, state, state.MessageCount, state.Bytes);
                for (var rep = 1; rep <= options.ScaleRuns; rep++)
                    await TimedAsync(run, $"scale-noop-{n}", rep, state, 0, 0, checkTarget: rep == options.ScaleRuns);
                if (!options.Keep) Cleanup(run);
            }
            if (!options.Keep) _dovecot.DeleteUser(pristine);
        }
    }
}
