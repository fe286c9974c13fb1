using MailSync.Core.Checkpoints;
using MailSync.Core.Mapping;
using MailSync.Core.Model;

namespace MailSync.Core.Sync.TwoWay;

/// <summary>
/// One folder of a two-way job: its name on each side, what each side listed (null: not there),
/// and the ledger's pair (null: never synced).
/// </summary>
public sealed record SyncFolder(string NameA, string NameB, FolderInfo? A, FolderInfo? B, SyncPairState? Pair, SpecialUse Role, bool Subscribe, string Path)
{
    /// <summary>
    /// One-way only: the ledger's pair of this A folder into another B folder, before the job's
    /// mapping changed. It is forgotten and a new pair started (the old B folder is left as it
    /// is; should the mapping change back, its copies are found again by content, not re-copied).
    /// </summary>
    public SyncPairState? Replaces { get; init; }

    public string Name(Side side) => side == Side.A ? NameA : NameB;

    public FolderInfo? Info(Side side) => side == Side.A ? A : B;

    /// <summary>The side that does not have the folder, when exactly one does not.</summary>
    public Side? Missing => A is null && B is not null ? Side.A : B is null && A is not null ? Side.B : null;
}

/// <summary>
/// Pairs the folders of two accounts for two-way sync. Side A's folders map onto B as in migrate
/// (include/exclude, renames, targetPrefix, roles); a folder only B has maps back by the inverse
/// rules, and only when mapping that name forward gives the same B folder again, so the mapping is
/// one-to-one both ways. A pair the ledger knows keeps its names. Pure.
/// <para>
/// One-way into B (<paramref name="mergeIntoB"/>, migrate): several A folders may map onto one B
/// folder (two renamed onto the same name, two folders of one role), each its own pair, as migrate
/// has always merged them; folders only B has are not the job's.
/// </para>
/// </summary>
public static class SyncFolders
{
    public static (List<SyncFolder> Folders, List<string> Warnings) Decide(
        Sides<IReadOnlyList<FolderInfo>> listed, Sides<NamespaceInfo> namespaces, FolderMappingOptions mapping, IReadOnlyList<SyncPairState> pairs,
        bool mergeIntoB = false)
    {
        var warnings = new List<string>();
        var byNameA = listed.A.GroupBy(f => Canonical(f.FullName)).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var byNameB = listed.B.GroupBy(f => Canonical(f.FullName)).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var pairsByA = pairs.ToDictionary(p => Canonical(p.NameA), StringComparer.Ordinal);
        // Several pairs share a B folder only in a ledger a one-way job wrote; two-way keeps the first.
        var pairsByB = pairs.GroupBy(p => Canonical(p.NameB), StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var usedA = new HashSet<string>(StringComparer.Ordinal);
        var usedB = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<SyncFolder>();

        var forward = FolderMapper.Map(listed.A, namespaces.A, listed.B, namespaces.B, mapping);
        warnings.AddRange(forward.Warnings);
        foreach (var m in forward.Mappings.Where(m => m.Source.Selectable && m.Source.FullName.Length > 0))
        {
            var nameA = Canonical(m.Source.FullName);
            var pair = pairsByA.GetValueOrDefault(nameA);
            var nameB = pair is not null ? Canonical(pair.NameB) : Canonical(m.TargetName);
            if (mergeIntoB)
            {
                // Migrate follows the mapping as it is now: a folder mapped elsewhere starts a new pair.
                var wanted = Canonical(m.TargetName);
                var moved = pair is not null && Canonical(pair.NameB) != wanted;
                result.Add(new SyncFolder(nameA, wanted, m.Source, byNameB.GetValueOrDefault(wanted), moved ? null : pair, m.Role, m.Subscribe, m.SourcePath)
                {
                    Replaces = moved ? pair : null,
                });
                continue;
            }

            if (pair is null && pairsByB.TryGetValue(nameB, out var taken))
            {
                warnings.Add($"\"{m.Source.FullName}\" maps onto \"{nameB}\", which is synced with \"{taken.NameA}\"; it is not synced (give it a rename)");
                continue;
            }

            if (!usedB.Add(nameB))
            {
                warnings.Add($"\"{m.Source.FullName}\" maps onto \"{nameB}\" like another folder; two-way sync keeps folders one to one, so it is not synced (give it a rename)");
                continue;
            }

            usedA.Add(nameA);
            result.Add(new SyncFolder(nameA, nameB, m.Source, byNameB.GetValueOrDefault(nameB), pair, m.Role, m.Subscribe, m.SourcePath));
        }

        if (mergeIntoB)
            return (result, warnings);
        var inverse = Inverse(mapping);
        foreach (var b in listed.B.Where(f => f.Selectable))
        {
            var nameB = Canonical(b.FullName);
            if (usedB.Contains(nameB))
                continue;
            if (pairsByB.TryGetValue(nameB, out var known))
            {
                var knownA = Canonical(known.NameA);
                if (byNameA.ContainsKey(knownA))
                    continue; // on A but excluded now: left alone
                usedA.Add(knownA);
                usedB.Add(nameB);
                result.Add(new SyncFolder(knownA, nameB, null, b, known, b.Role, b.Subscribed, nameB));
                continue;
            }

            if (MapBack(b, listed, namespaces, mapping, inverse) is not { } back)
                continue;
            var nameA = Canonical(back.NameA);
            if (pairsByA.TryGetValue(nameA, out var takenA))
            {
                warnings.Add($"\"{b.FullName}\" on side B maps back onto \"{nameA}\", which is synced with \"{takenA.NameB}\"; it is not synced");
                continue;
            }

            if (!usedA.Add(nameA))
            {
                warnings.Add($"\"{b.FullName}\" on side B maps back onto \"{nameA}\" like another folder; it is not synced");
                continue;
            }

            usedB.Add(nameB);
            result.Add(new SyncFolder(nameA, nameB, byNameA.GetValueOrDefault(nameA), b, null, b.Role, b.Subscribed, back.Path));
        }

        // Pairs whose folders are gone from both sides.
        foreach (var pair in pairs.Where(p => !usedA.Contains(Canonical(p.NameA)) && !usedB.Contains(Canonical(p.NameB))))
        {
            if (byNameA.ContainsKey(Canonical(pair.NameA)) || byNameB.ContainsKey(Canonical(pair.NameB)))
                continue; // excluded now: left alone
            result.Add(new SyncFolder(pair.NameA, pair.NameB, null, null, pair, SpecialUse.None, false, pair.NameA));
        }

        return (result, warnings);
    }

    /// <summary>
    /// The name <paramref name="folder"/> of side <paramref name="side"/> has on the other side by
    /// the job's mapping (forward from A, back from B), or null when it is not the job's.
    /// </summary>
    public static string? CounterpartName(
        Side side, FolderInfo folder, Sides<IReadOnlyList<FolderInfo>> listed, Sides<NamespaceInfo> namespaces, FolderMappingOptions mapping)
    {
        if (side == Side.B)
            return MapBack(folder, listed, namespaces, mapping, Inverse(mapping)) is { } back ? Canonical(back.NameA) : null;
        var forward = FolderMapper.Map([folder], namespaces.A, listed.B, namespaces.B, mapping).Mappings.FirstOrDefault(m => m.Source.FullName == folder.FullName);
        return forward is null ? null : Canonical(forward.TargetName);
    }

    /// <summary>INBOX in any case is INBOX; every other name is case-sensitive.</summary>
    public static string Canonical(string name) => LogicalPath.IsInbox(name) ? LogicalPath.Inbox : name;

    private static FolderMappingOptions Inverse(FolderMappingOptions mapping)
        => new([], [], mapping.Renames.GroupBy(r => r.Value, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Key, StringComparer.Ordinal), null);

    /// <summary>
    /// The A name of a folder only B has, by the inverse rules; null when there is none that maps
    /// forward onto the same folder (outside the target prefix, excluded, or not one to one).
    /// </summary>
    private static (string NameA, string Path)? MapBack(
        FolderInfo b, Sides<IReadOnlyList<FolderInfo>> listed, Sides<NamespaceInfo> namespaces, FolderMappingOptions mapping, FolderMappingOptions inverse)
    {
        var folder = b;
        if (mapping.TargetPrefix is { } prefix)
        {
            // Only what lies under the prefix belongs to the job; the prefix is taken off first.
            var segments = LogicalPath.Segments(b, namespaces.B);
            var wanted = LogicalPath.Split(prefix);
            if (segments.Length <= wanted.Length || !segments.Take(wanted.Length).SequenceEqual(wanted, StringComparer.Ordinal))
                return null;
            var rest = segments[wanted.Length..];
            var delimiter = b.Delimiter != '\0' ? b.Delimiter : namespaces.B.Delimiter;
            var name = rest is [var only] && LogicalPath.IsInbox(only)
                ? LogicalPath.Inbox
                : LogicalPath.NormalizedPrefix(namespaces.B.Prefix, delimiter) + string.Join(delimiter, rest);
            folder = b with { FullName = name };
        }

        var back = FolderMapper.Map([folder], namespaces.B, listed.A, namespaces.A, inverse).Mappings
            .FirstOrDefault(m => m.Source.FullName == folder.FullName);
        if (back is null)
            return null;
        // include/exclude name A's paths, but a user writing "Spam" means B's "Spam" too, whatever A calls it.
        var pathB = LogicalPath.Join(LogicalPath.Segments(folder, namespaces.B));
        if (mapping.Exclude.Any(p => FolderMapper.MatchesGlob(p, pathB)))
            return null;
        var candidate = new FolderInfo(back.TargetName, namespaces.A.Delimiter, b.Role, b.Subscribed);
        var again = FolderMapper.Map([candidate], namespaces.A, listed.B, namespaces.B, mapping).Mappings
            .FirstOrDefault(m => m.Source.FullName == candidate.FullName);
        return again is not null && Canonical(again.TargetName) == Canonical(b.FullName) ? (back.TargetName, again.SourcePath) : null;
    }
}
