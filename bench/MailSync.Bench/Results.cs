using System.Globalization;
using System.Text;

namespace MailSync.Bench;

/// <summary>One timed tool run and its checks.</summary>
internal sealed record Measurement(
    string Scenario, string Tool, int Rep, RunOutcome Outcome, int Messages, long Bytes,
    Correctness? Target, Correctness? Source);

/// <summary>Everything measured, and the Markdown report made from it.</summary>
internal sealed class Results
{
    public List<Measurement> All { get; } = [];
    public List<string> Notes { get; } = [];
    public Dictionary<string, string> Machine { get; } = [];
    public Dictionary<string, string> ToolSetup { get; } = [];
    public Dictionary<string, string> ScenarioTitles { get; } = [];

    private static string F(double v, int decimals = 2) => v.ToString("F" + decimals, CultureInfo.InvariantCulture);

    private static double Median(IReadOnlyList<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    /// <summary>Median wall seconds of the successful runs, or null when none succeeded.</summary>
    public double? MedianSeconds(string scenario, string tool)
    {
        var ok = All.Where(m => m.Scenario == scenario && m.Tool == tool && m.Outcome.Ok).Select(m => m.Outcome.WallSeconds).ToList();
        return ok.Count > 0 ? Median(ok) : null;
    }

    private string Cell(string scenario, string tool, Func<IReadOnlyList<Measurement>, string> f)
    {
        var ms = All.Where(m => m.Scenario == scenario && m.Tool == tool).ToList();
        return ms.Count == 0 ? "–" : f(ms);
    }

    private static string CheckText(IReadOnlyList<Measurement> ms, Func<Measurement, Correctness?> pick)
    {
        var bad = ms.Select(m => (m, c: pick(m))).Where(x => x.c is { Ok: false }).ToList();
        if (ms.All(m => pick(m) is null)) return "not checked";
        if (bad.Count == 0) return "ok";
        var distinct = bad.Select(x => x.c!.Summary()).Distinct().ToList();
        var prefix = bad.Count == ms.Count ? "" : $"{bad.Count}/{ms.Count} runs: ";
        return prefix + string.Join(" / ", distinct);
    }

    public string Render(IReadOnlyList<string> tools, IReadOnlyList<string> mainScenarios, string? memoryScenario, IReadOnlyList<(int N, string Initial, string Noop)> scale)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# MailSync benchmark");
        sb.AppendLine();
        foreach (var (k, v) in Machine) sb.AppendLine($"- **{k}**: {v}");
        sb.AppendLine();

        var failures = new List<string>();
        string Wall(IReadOnlyList<Measurement> ms)
        {
            var ok = ms.Where(m => m.Outcome.Ok).Select(m => m.Outcome.WallSeconds).ToList();
            foreach (var m in ms.Where(m => !m.Outcome.Ok))
                failures.Add($"{m.Tool} / {m.Scenario} / run {m.Rep}: {m.Outcome.FailureText()}");
            var failed = ms.Count - ok.Count;
            if (ok.Count == 0) return $"FAILED ({ms[0].Outcome.FailureText().Split(':')[0]})";
            var text = ok.Count == 1 ? F(ok[0]) : $"{F(Median(ok))} ({F(ok.Min())}–{F(ok.Max())})";
            return failed > 0 ? $"{text}, {failed} failed" : text;
        }
        string Rss(IReadOnlyList<Measurement> ms) => F(ms.Max(m => m.Outcome.PeakRssKb) / 1024.0, 0);
        string Rate(IReadOnlyList<Measurement> ms, bool bytes)
        {
            var ok = ms.Where(m => m.Outcome.Ok).ToList();
            if (ok.Count == 0 || ok[0].Messages == 0) return "–";
            var t = Median([.. ok.Select(m => m.Outcome.WallSeconds)]);
            return bytes ? F(ok[0].Bytes / 1048576.0 / t, 1) : F(ok[0].Messages / t, 0);
        }
        string Ratio(string scenario, string peer, string me = "mailsync")
        {
            var mine = MedianSeconds(scenario, me);
            var theirs = MedianSeconds(scenario, peer);
            return mine is { } a && theirs is { } b && a > 0 ? "×" + F(b / a) : "–";
        }

        var peers = tools.Where(t => t != "mailsync").ToList();
        var showRatios = tools.Contains("mailsync") && peers.Count > 0;

        if (mainScenarios.Count > 0)
        {
            sb.AppendLine("## Main scenarios");
            sb.AppendLine();
            foreach (var s in mainScenarios)
                if (ScenarioTitles.TryGetValue(s, out var t)) sb.AppendLine($"- **{s}**: {t}");
            sb.AppendLine();
            var header = "| scenario | tool | wall s median (min–max) | msg/s | MB/s | peak RSS MB (max) | target check | source untouched |";
            var line = "|---|---|---:|---:|---:|---:|---|---|";
            if (showRatios)
                foreach (var p in peers) { header += $" MailSync speed vs {p} |"; line += "---:|"; }
            sb.AppendLine(header).AppendLine(line);
            foreach (var s in mainScenarios)
            {
                foreach (var tool in tools)
                {
                    var row = $"| {s} | {tool} | {Cell(s, tool, Wall)} | {Cell(s, tool, ms => s.StartsWith("no-op", StringComparison.Ordinal) ? "–" : Rate(ms, false))} | " +
                              $"{Cell(s, tool, ms => s.StartsWith("no-op", StringComparison.Ordinal) ? "–" : Rate(ms, true))} | {Cell(s, tool, Rss)} | " +
                              $"{Cell(s, tool, ms => CheckText(ms, m => m.Target))} | {Cell(s, tool, ms => CheckText(ms, m => m.Source))} |";
                    // mailsync-sync's row compares two-way sync with the other tools (interimap is its real peer).
                    if (showRatios)
                        foreach (var p in peers)
                            row += (tool == "mailsync" ? $" {Ratio(s, p)}" : tool == "mailsync-sync" && !p.StartsWith("mailsync", StringComparison.Ordinal) ? $" {Ratio(s, p, tool)}" : "") + " |";
                    sb.AppendLine(row);
                }
            }
            sb.AppendLine();
            if (showRatios)
                sb.AppendLine("Speed ratio = the peer's median wall time / that row's MailSync's (> 1: MailSync is faster); the mailsync-sync row compares two-way sync with the other tools.").AppendLine();
        }

        if (memoryScenario is not null && All.Any(m => m.Scenario == memoryScenario))
        {
            sb.AppendLine($"## Memory case: {ScenarioTitles.GetValueOrDefault(memoryScenario, memoryScenario)}");
            sb.AppendLine();
            sb.AppendLine("| tool | wall s median (min–max) | MB/s | peak RSS MB (max) | target check | source untouched |");
            sb.AppendLine("|---|---:|---:|---:|---|---|");
            foreach (var tool in tools)
                sb.AppendLine($"| {tool} | {Cell(memoryScenario, tool, Wall)} | {Cell(memoryScenario, tool, ms => Rate(ms, true))} | {Cell(memoryScenario, tool, Rss)} | " +
                              $"{Cell(memoryScenario, tool, ms => CheckText(ms, m => m.Target))} | {Cell(memoryScenario, tool, ms => CheckText(ms, m => m.Source))} |");
            sb.AppendLine();
        }

        if (scale.Count > 0)
        {
            sb.AppendLine("## No-op scaling series (small messages only, 2–30 KB)");
            sb.AppendLine();
            sb.AppendLine("No-op re-run wall time in seconds, median (min–max), after one initial copy per N (its time and check in brackets).");
            sb.AppendLine();
            sb.AppendLine("| tool | " + string.Join(" | ", scale.Select(x => $"no-op s @ {x.N:N0}".Replace(",", " ", StringComparison.Ordinal))) + " | peak RSS MB (no-op @ largest N) |");
            sb.AppendLine("|---|" + string.Concat(scale.Select(_ => "---:|")) + "---:|");
            foreach (var tool in tools)
            {
                var cells = scale.Select(x =>
                    $"{Cell(x.Noop, tool, Wall)} [initial {Cell(x.Initial, tool, Wall)}, {Cell(x.Initial, tool, ms => CheckText(ms, m => m.Target))}]");
                sb.AppendLine($"| {tool} | {string.Join(" | ", cells)} | {Cell(scale[^1].Noop, tool, Rss)} |");
            }
            sb.AppendLine();
        }

        if (failures.Count > 0)
        {
            sb.AppendLine("## Failed runs");
            sb.AppendLine();
            foreach (var f in failures.Distinct()) sb.AppendLine($"- {f}");
            sb.AppendLine();
        }

        var differing = All.Where(m => m.Target is { Ok: false } || m.Source is { Ok: false }).ToList();
        if (differing.Count > 0)
        {
            sb.AppendLine("## Differences found");
            sb.AppendLine();
            sb.AppendLine("Per tool and scenario: the first run with differences; examples once per kind of difference.");
            sb.AppendLine();
            foreach (var byTool in differing.GroupBy(m => m.Tool))
            {
                var shownKinds = new HashSet<string>();
                foreach (var m in byTool.GroupBy(m => m.Scenario).Select(g => g.First()))
                {
                    var runs = All.Count(x => x.Tool == m.Tool && x.Scenario == m.Scenario);
                    var bad = differing.Count(x => x.Tool == m.Tool && x.Scenario == m.Scenario);
                    var parts = new List<string>();
                    if (m.Target is { Ok: false } t)
                        parts.Add("target: " + t.Summary() + (t.BytesExplanation is { } why ? $" (bytes: {why})" : ""));
                    if (m.Source is { Ok: false } src)
                        parts.Add("SOURCE CHANGED: " + src.Summary());
                    sb.AppendLine($"- **{m.Tool}** / {m.Scenario} ({bad} of {runs} runs): {string.Join("; ", parts)}");
                    foreach (var c in new[] { m.Target, m.Source })
                    {
                        if (c is not { Ok: false }) continue;
                        var kind = string.Join(',', c.Summary().Split(", ").Select(x => x.Split(' ')[0]));
                        if (!shownKinds.Add(kind)) continue;
                        foreach (var e in c.Examples) sb.AppendLine($"  - {e}");
                    }
                }
            }
            sb.AppendLine();
        }

        sb.AppendLine("## How it was measured");
        sb.AppendLine();
        foreach (var (tool, setup) in ToolSetup) sb.AppendLine($"- **{tool}**: {setup}");
        foreach (var n in Notes) sb.AppendLine($"- {n}");
        return sb.ToString();
    }
}
