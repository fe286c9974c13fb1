using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Support;

/// <summary>
/// Source versus target, folder by folder, by content (CRLF-normalised SHA-256 multisets): the
/// invariant of every fault test is Missing == 0 and Duplicates == 0.
/// </summary>
/// <param name="Source">Messages in the source folders.</param>
/// <param name="Target">Messages in the same-named target folders.</param>
/// <param name="Duplicates">Target copies beyond what the source has (a message stored twice).</param>
/// <param name="Missing">Source messages with no copy on the target.</param>
public sealed record Census(int Source, int Target, int Duplicates, int Missing)
{
    public bool ExactlyOnce => Duplicates == 0 && Missing == 0 && Source == Target;

    public override string ToString() => $"source {Source}, target {Target}, duplicates {Duplicates}, missing {Missing}";

    /// <summary>Compares every source folder with the target folder of the same name (the default mapping between two Dovecot users).</summary>
    public static async Task<Census> TakeAsync(DovecotServer sourceServer, TestUser source, DovecotServer targetServer, TestUser target)
    {
        var sourceFolders = await Mailbox.ReadAllAsync(sourceServer, source);
        var targetFolders = await Mailbox.ReadAllAsync(targetServer, target);
        int sourceCount = 0, targetCount = 0, duplicates = 0, missing = 0;
        foreach (var (name, folder) in sourceFolders)
        {
            var wanted = Count(Corpus.NormalizedHashes(folder.Messages.Select(m => m.Bytes)));
            var have = targetFolders.TryGetValue(name, out var copy)
                ? Count(Corpus.NormalizedHashes(copy.Messages.Select(m => m.Bytes)))
                : [];
            sourceCount += folder.Messages.Count;
            targetCount += have.Values.Sum();
            foreach (var (hash, n) in wanted)
            {
                var got = have.GetValueOrDefault(hash);
                missing += Math.Max(0, n - got);
                duplicates += Math.Max(0, got - n);
            }

            duplicates += have.Where(h => !wanted.ContainsKey(h.Key)).Sum(h => h.Value);
        }

        return new Census(sourceCount, targetCount, duplicates, missing);
    }

    private static Dictionary<string, int> Count(IEnumerable<string> hashes)
        => hashes.GroupBy(h => h, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
}
