using System.Globalization;
using System.Text;
using MailKit;

namespace MailSync.Bench;

internal enum SizeClass { Small, Medium, Large, Huge }

/// <summary>What one generated message looks like, before its bytes are made.</summary>
internal sealed record MessagePlan(
    int Seed, int Index, string Folder, SizeClass Class, int TargetBytes,
    MessageFlags Flags, IReadOnlyList<string> Keywords, DateTimeOffset InternalDate);

/// <summary>Which mix of message sizes a corpus has.</summary>
internal enum CorpusMix
{
    /// <summary>~91.5 % 2–30 KB, ~8 % 100 KB–2 MB with attachments, one per 2,000 over 10 MB.</summary>
    Realistic,
    /// <summary>Like Realistic but nothing over 2 MB (the 1 % additions of the incremental scenario).</summary>
    NoLarge,
    /// <summary>Only 2–30 KB messages (the no-op scaling series).</summary>
    SmallOnly,
}

/// <summary>
/// The deterministic corpus: the folder tree, and for message i of seed s its folder, size, flags,
/// keywords and INTERNALDATE. Every message has its own Random(seed, i), so any message can be
/// made without making the others, and the same (seed, i) always gives the same bytes.
/// </summary>
internal static class Corpus
{
    /// <summary>Folders in creation order (parents first) with their share of the messages.</summary>
    public static readonly (string Name, int Weight)[] Folders =
    [
        ("INBOX", 28), ("Sent", 14), ("Drafts", 1), ("Trash", 3), ("Junk", 2),
        ("Archive", 3), ("Archive/2019", 8), ("Archive/2020", 4), ("Archive/2020/Q1", 5), ("Archive/2020/Q2", 5),
        ("Projects", 1), ("Projects/Alpha", 4), ("Projects/Alpha/Specs", 4), ("Projects/Beta", 3),
        ("Lists", 0), ("Lists/dovecot", 6), ("Lists/dotnet", 5),
        ("Receipts", 2), ("Personal Stuff", 2), ("Reisen", 0), ("Reisen/Köln", 1),
    ];

    private static readonly string[] KeywordPool = ["$Forwarded", "$Label1", "$Label3", "Work", "NonJunk", "$MDNSent", "Project-X"];
    private static readonly double[] KeywordOdds = [0.04, 0.03, 0.01, 0.05, 0.10, 0.02, 0.01];

    public static readonly DateTimeOffset CorpusStart = new(2016, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset CorpusEnd = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static Random RandomFor(int seed, int index) =>
        new(unchecked((seed * 1_000_003) ^ (index * 7_919) ^ 0x5bd1e995));

    public static List<MessagePlan> Plan(int seed, int count, CorpusMix mix, DateTimeOffset from, DateTimeOffset to)
    {
        var totalWeight = Folders.Sum(f => f.Weight);
        var largeCount = mix == CorpusMix.Realistic ? Math.Max(1, count / 2000) : 0;
        var largeStride = largeCount > 0 ? count / largeCount : 0;
        var step = (to - from).TotalSeconds / count;
        var plans = new List<MessagePlan>(count);
        for (var i = 0; i < count; i++)
        {
            var rnd = RandomFor(seed, i);
            var pick = rnd.Next(totalWeight);
            var folder = Folders[0].Name;
            foreach (var (name, weight) in Folders)
            {
                if (pick < weight) { folder = name; break; }
                pick -= weight;
            }

            SizeClass cls;
            int size;
            if (largeCount > 0 && i % largeStride == largeStride / 2 && i / largeStride < largeCount)
            {
                cls = SizeClass.Large;
                size = rnd.Next(10_500_000, 16_000_000);
            }
            else if (mix != CorpusMix.SmallOnly && rnd.NextDouble() < 0.08)
            {
                cls = SizeClass.Medium;
                size = LogUniform(rnd, 100 * 1024, 2 * 1024 * 1024);
            }
            else
            {
                cls = SizeClass.Small;
                size = LogUniform(rnd, 2 * 1024, 30 * 1024);
            }

            var flags = MessageFlags.None;
            if (folder == "Drafts") flags |= MessageFlags.Draft;
            else if (folder == "Sent" || rnd.NextDouble() < 0.85) flags |= MessageFlags.Seen;
            if (folder != "Drafts" && rnd.NextDouble() < 0.10) flags |= MessageFlags.Answered;
            if (rnd.NextDouble() < 0.05) flags |= MessageFlags.Flagged;
            if (folder != "Drafts" && rnd.NextDouble() < 0.005) flags |= MessageFlags.Draft;
            var keywords = new List<string>();
            for (var k = 0; k < KeywordPool.Length; k++)
                if (rnd.NextDouble() < KeywordOdds[k]) keywords.Add(KeywordPool[k]);
            if (folder == "Junk") keywords.Add("$Junk");

            // Increasing with i, at least step/2 apart, whole seconds (what IMAP keeps).
            var seconds = Math.Floor(i * step + rnd.NextDouble() * step / 2);
            var date = from.AddSeconds(seconds).ToOffset(Offsets[rnd.Next(Offsets.Length)]);
            plans.Add(new MessagePlan(seed, i, folder, cls, size, flags, keywords, date));
        }
        return plans;
    }

    public static MessagePlan HugePlan(int seed, int index, int megabytes) =>
        new(seed, index, "INBOX", SizeClass.Huge, megabytes * 1024 * 1024, MessageFlags.Seen, ["$Label1"],
            CorpusStart.AddDays(index + 1));

    private static readonly TimeSpan[] Offsets =
    [
        TimeSpan.Zero, TimeSpan.FromHours(1), TimeSpan.FromHours(2), TimeSpan.FromHours(-5),
        TimeSpan.FromHours(-8), new(5, 30, 0), TimeSpan.FromHours(9),
    ];

    private static int LogUniform(Random rnd, int min, int max) =>
        (int)Math.Round(Math.Exp(Math.Log(min) + rnd.NextDouble() * (Math.Log(max) - Math.Log(min))));

    // ------------------------------------------------------------------ bytes

    private static readonly string[] Words =
    ("the of and to in is for on that with as by this be are from at or it an was which have not " +
     "meeting project budget report quarterly review attached please find draft proposal schedule release " +
     "server migration mailbox folder message customer invoice payment delivery order shipment tracking " +
     "team update status agenda minutes follow-up deadline milestone requirement specification design " +
     "feedback question answer thanks regards best cheers tomorrow yesterday monday friday week month " +
     "contract signature approval office travel hotel flight booking conference workshop training " +
     "database backup restore network firewall certificate password account access permission policy " +
     "Grüße Köln café naïve Zürich señor déjà résumé straße façade").Split(' ');

    private static readonly string[] FirstNames = ["Anna", "Ben", "Chloé", "David", "Emma", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kira", "Luca", "Maya", "Noah", "Olga", "Pavel"];
    private static readonly string[] LastNames = ["Schmidt", "Müller", "Garcia", "Smith", "Tanaka", "Novak", "Rossi", "Dubois", "Kowalski", "Nguyen", "Berg", "Okafor"];
    private static readonly string[] Domains = ["example.com", "example.org", "mail.example.net", "corp.example", "lists.example.org"];

    /// <summary>The RFC 5322 bytes of a plan: CRLF line endings, ending in CRLF.</summary>
    public static byte[] Render(MessagePlan plan)
    {
        var rnd = RandomFor(plan.Seed ^ 0x3c6ef372, plan.Index);
        var sb = new StringBuilder(Math.Min(plan.TargetBytes + 4096, 64 * 1024));
        var from = Person(rnd);
        var to = Person(rnd);
        var date = plan.InternalDate.AddSeconds(-rnd.Next(5, 3600));
        var subjectWords = string.Join(' ', Enumerable.Range(0, rnd.Next(3, 9)).Select(_ => Words[rnd.Next(Words.Length)]));
        var subject = rnd.NextDouble() < 0.15 ? EncodedWord("Re: " + subjectWords) : (rnd.NextDouble() < 0.3 ? "Re: " : "") + Ascii(subjectWords);
        var id = $"<{plan.Seed:x}.{plan.Index}.{rnd.Next():x8}@bench.mailsync.example>";

        H(sb, "Return-Path", $"<{from.Address}>");
        H(sb, "Received", $"from mx{rnd.Next(1, 9)}.{Domains[rnd.Next(Domains.Length)]} (mx.example [192.0.2.{rnd.Next(1, 254)}])\r\n\tby imap.example.net with ESMTPS id {rnd.Next():X8}\r\n\tfor <{to.Address}>; {plan.InternalDate.ToString("ddd, dd MMM yyyy HH:mm:ss ", CultureInfo.InvariantCulture)}{Zone(plan.InternalDate)}");
        H(sb, "Date", date.ToString("ddd, dd MMM yyyy HH:mm:ss ", CultureInfo.InvariantCulture) + Zone(date));
        H(sb, "From", from.Header);
        H(sb, "To", to.Header);
        if (rnd.NextDouble() < 0.3) H(sb, "Cc", Person(rnd).Header);
        H(sb, "Subject", subject);
        H(sb, "Message-ID", id);
        if (rnd.NextDouble() < 0.3)
        {
            var parent = $"<{plan.Seed:x}.{Math.Max(0, plan.Index - rnd.Next(1, 50))}.parent@bench.mailsync.example>";
            H(sb, "In-Reply-To", parent);
            H(sb, "References", parent);
        }
        H(sb, "X-Mailer", rnd.NextDouble() < 0.5 ? "Bench Mailer 1.0" : "Thunderbird 128.3.1");
        H(sb, "MIME-Version", "1.0");

        var headerBytes = Encoding.UTF8.GetByteCount(sb.ToString());
        var budget = Math.Max(256, plan.TargetBytes - headerBytes);
        if (plan.Class == SizeClass.Small)
        {
            if (rnd.NextDouble() < 0.6)
            {
                H(sb, "Content-Type", "text/plain; charset=utf-8; format=flowed");
                H(sb, "Content-Transfer-Encoding", "8bit");
                sb.Append("\r\n");
                Text(sb, rnd, budget - 100);
            }
            else
            {
                Alternative(sb, rnd, budget - 200, topLevel: true);
            }
        }
        else
        {
            var boundary = $"----=_mixed_{plan.Seed:x}_{plan.Index}_{rnd.Next():x8}";
            H(sb, "Content-Type", $"multipart/mixed; boundary=\"{boundary}\"");
            sb.Append("\r\nThis is a multi-part message in MIME format.\r\n");
            sb.Append("--").Append(boundary).Append("\r\n");
            var textBudget = rnd.Next(1000, 4000);
            Alternative(sb, rnd, textBudget, topLevel: false);
            var attachmentBudget = Math.Max(1024, budget - textBudget - 600);
            var attachments = plan.Class == SizeClass.Medium ? rnd.Next(1, 4) : 1;
            for (var a = 0; a < attachments; a++)
            {
                var share = a == attachments - 1 ? attachmentBudget : attachmentBudget / attachments;
                attachmentBudget -= share;
                var (type, ext) = AttachmentTypes[rnd.Next(AttachmentTypes.Length)];
                sb.Append("--").Append(boundary).Append("\r\n");
                sb.Append($"Content-Type: {type}; name=\"file-{plan.Index}-{a}.{ext}\"\r\n");
                sb.Append($"Content-Disposition: attachment; filename=\"file-{plan.Index}-{a}.{ext}\"\r\n");
                sb.Append("Content-Transfer-Encoding: base64\r\n\r\n");
                // base64 with 76-character lines: 78 bytes per 57 raw bytes.
                var raw = new byte[Math.Max(57, share / 78 * 57)];
                rnd.NextBytes(raw);
                sb.Append(Convert.ToBase64String(raw, Base64FormattingOptions.InsertLineBreaks)).Append("\r\n");
            }
            sb.Append("--").Append(boundary).Append("--\r\n");
        }
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static readonly (string Type, string Ext)[] AttachmentTypes =
        [("application/pdf", "pdf"), ("image/jpeg", "jpg"), ("application/zip", "zip"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")];

    private static void Alternative(StringBuilder sb, Random rnd, int budget, bool topLevel)
    {
        var boundary = $"----=_alt_{rnd.Next():x8}{rnd.Next():x8}";
        if (topLevel) H(sb, "Content-Type", $"multipart/alternative; boundary=\"{boundary}\"");
        else sb.Append($"Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n");
        sb.Append("\r\n");
        sb.Append("--").Append(boundary).Append("\r\n");
        sb.Append("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
        var start = sb.Length;
        Text(sb, rnd, Math.Max(100, budget * 2 / 5));
        var plain = sb.ToString(start, sb.Length - start);
        sb.Append("--").Append(boundary).Append("\r\n");
        sb.Append("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
        sb.Append("<html><body>\r\n");
        foreach (var para in plain.Split("\r\n\r\n", StringSplitOptions.RemoveEmptyEntries))
            sb.Append("<p>").Append(para).Append("</p>\r\n");
        sb.Append("</body></html>\r\n");
        sb.Append("--").Append(boundary).Append("--\r\n");
    }

    /// <summary>Paragraphs of words in lines of at most 76 characters, about <paramref name="bytes"/> long.</summary>
    private static void Text(StringBuilder sb, Random rnd, int bytes)
    {
        var written = 0;
        var line = new StringBuilder(80);
        var lines = 0;
        while (written < bytes)
        {
            var w = Words[rnd.Next(Words.Length)];
            if (line.Length + w.Length + 1 > 76)
            {
                sb.Append(line).Append("\r\n");
                written += line.Length + 2;
                line.Clear();
                if (++lines % rnd.Next(4, 12) == 0) { sb.Append("\r\n"); written += 2; }
                continue;
            }
            if (line.Length > 0) line.Append(' ');
            line.Append(w);
        }
        if (line.Length > 0) sb.Append(line).Append("\r\n");
    }

    private static void H(StringBuilder sb, string name, string value) => sb.Append(name).Append(": ").Append(value).Append("\r\n");

    private static (string Header, string Address) Person(Random rnd)
    {
        var first = FirstNames[rnd.Next(FirstNames.Length)];
        var last = LastNames[rnd.Next(LastNames.Length)];
        var address = $"{Ascii(first).ToLowerInvariant()}.{Ascii(last).ToLowerInvariant()}@{Domains[rnd.Next(Domains.Length)]}";
        var display = first + " " + last;
        return (display.Any(c => c > 127) ? $"{EncodedWord(display)} <{address}>" : $"\"{display}\" <{address}>", address);
    }

    private static string Ascii(string s) =>
        new([.. s.Normalize(NormalizationForm.FormD).Where(c => c < 128)]);

    private static string EncodedWord(string s) => "=?UTF-8?B?" + Convert.ToBase64String(Encoding.UTF8.GetBytes(s)) + "?=";

    private static string Zone(DateTimeOffset d)
    {
        var o = d.Offset;
        return (o < TimeSpan.Zero ? "-" : "+") + o.Duration().ToString("hhmm", CultureInfo.InvariantCulture);
    }
}
