namespace MailSync.Tests.Support;

/// <summary>The shared message corpus at ../shared/corpus (beside the checkout); never copied into the repo.</summary>
public static class Corpus
{
    public sealed record Entry(string RelativePath, string FullPath, IReadOnlySet<string> Tags);

    public static string Root { get; } = Locate();

    public static IReadOnlyList<Entry> Messages { get; } = Load();

    private static string Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "corpus");
            if (File.Exists(Path.Combine(candidate, "index.tsv")))
                return candidate;
        }

        throw new InvalidOperationException("The message corpus was not found: expected ../shared/corpus/index.tsv beside the repository checkout.");
    }

    private static List<Entry> Load()
    {
        var result = new List<Entry>();
        foreach (var line in File.ReadLines(Path.Combine(Root, "index.tsv")).Skip(1))
        {
            var cols = line.Split('\t');
            if (!cols[0].StartsWith("messages/", StringComparison.Ordinal))
                continue;
            result.Add(new Entry(cols[0], Path.Combine(Root, cols[0]), cols[3].Split(',').ToHashSet()));
        }

        return result;
    }

    /// <summary>Sorted SHA-256 of each message after <see cref="Normalize"/>: equal lists mean the same messages, each as often.</summary>
    public static List<string> NormalizedHashes(IEnumerable<byte[]> messages)
        => messages.Select(b => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Normalize(b)))).Order().ToList();

    /// <summary>Every bare LF as CRLF, nothing else changed: how Dovecot serves a Maildir file.</summary>
    public static byte[] ToCrlf(byte[] raw)
    {
        var output = new List<byte>(raw.Length + raw.Length / 40);
        for (var i = 0; i < raw.Length; i++)
        {
            if (raw[i] == (byte)'\n' && (i == 0 || raw[i - 1] != (byte)'\r'))
                output.Add((byte)'\r');
            output.Add(raw[i]);
        }

        return output.ToArray();
    }

    /// <summary>The bytes as an IMAP server should hand them back: CRLF line endings and a final newline.</summary>
    public static byte[] Normalize(byte[] raw)
    {
        var output = new List<byte>(raw.Length + raw.Length / 40 + 2);
        for (var i = 0; i < raw.Length; i++)
        {
            if (raw[i] == (byte)'\n' && (i == 0 || raw[i - 1] != (byte)'\r'))
                output.Add((byte)'\r');
            output.Add(raw[i]);
        }

        if (output.Count == 0 || output[^1] != (byte)'\n')
            output.AddRange("\r\n"u8.ToArray());
        return output.ToArray();
    }
}
