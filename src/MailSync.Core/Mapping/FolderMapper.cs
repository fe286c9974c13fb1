using MailSync.Core.Model;

namespace MailSync.Core.Mapping;

/// <summary>
/// Maps a source folder tree onto a target: namespace prefixes, delimiters, INBOX, special-use
/// roles, include/exclude and renames. Pure, so every rule is tested by tables without a server.
/// </summary>
public static class FolderMapper
{
    public static FolderMapResult Map(
        IReadOnlyList<FolderInfo> sourceFolders,
        NamespaceInfo sourceNamespace,
        IReadOnlyList<FolderInfo> targetFolders,
        NamespaceInfo targetNamespace,
        FolderMappingOptions options)
    {
        var warnings = new WarningList();
        var sources = sourceFolders
            .Select(f => new SourceEntry(f, LogicalPath.Segments(f, sourceNamespace)))
            .OrderBy(s => s.IsInbox ? 0 : 1)
            .ThenBy(s => s.Path, StringComparer.Ordinal)
            .ToList();
        var targets = new TargetTree(targetFolders, targetNamespace);
        var namer = new TargetNamer(targetNamespace);
        var renames = NormalizeRenames(options.Renames);
        var prefix = options.TargetPrefix is null ? [] : LogicalPath.Split(options.TargetPrefix);

        var planned = new List<Planned>();
        var excluded = new List<ExcludedFolder>();
        foreach (var source in sources)
        {
            var reason = ExclusionReason(source, options);
            if (reason is not null)
            {
                excluded.Add(new ExcludedFolder(source.Folder, source.Path, reason));
                continue;
            }

            planned.Add(Plan(source, renames, prefix, targets, namer, warnings));
        }

        WarnAboutMerges(planned, warnings);
        var toCreate = FoldersToCreate(planned, sources, sourceNamespace, targets, namer);
        return new FolderMapResult(planned.Select(p => p.Mapping).ToList(), excluded, warnings.Items, toCreate);
    }

    /// <summary>
    /// The special-use role a folder name suggests: a table of names clients and providers use
    /// (English, German, French, Spanish, Italian), top level or inside Gmail's "[Gmail]" /
    /// "[Google Mail]" container. Case-insensitive.
    /// </summary>
    public static SpecialUse GuessRoleByName(string logicalPath) =>
        SpecialUseNames.Guess(LogicalPath.Split(logicalPath));

    /// <summary>
    /// Whether a logical path matches an IMAP-style pattern: '*' any run of characters including
    /// '/', '%' any run within one segment, '?' one character; case-insensitive. A pattern matches
    /// the whole path, so "Archive" does not match "Archive/2020" (write "Archive/*" or "Archive*").
    /// </summary>
    public static bool MatchesGlob(string pattern, string logicalPath) => Glob.IsMatch(pattern, logicalPath);

    private static string? ExclusionReason(SourceEntry source, FolderMappingOptions options)
    {
        // A \Noselect container holds no messages; its children are mapped and it reappears only
        // as a parent the target must have.
        if (!source.Folder.Selectable)
        {
            return "not selectable";
        }

        var exclude = options.Exclude.FirstOrDefault(p => MatchesGlob(p, source.Path));
        if (exclude is not null)
        {
            return $"excluded by pattern \"{exclude}\"";
        }

        if (options.Include.Count > 0 && !options.Include.Any(p => MatchesGlob(p, source.Path)))
        {
            return "not included";
        }

        return null;
    }

    private static Planned Plan(
        SourceEntry source,
        Dictionary<string, string[]> renames,
        string[] prefix,
        TargetTree targets,
        TargetNamer namer,
        WarningList warnings)
    {
        var subscribe = source.IsInbox || source.Folder.Subscribed;
        string[] segments;
        int targetFixed;
        int sourceFixed;

        if (FindRename(source.Segments, renames) is var (covered, renamed))
        {
            // The user's rename is the strongest statement of intent: it beats role mapping.
            segments = [.. renamed, .. source.Segments[covered..]];
            (targetFixed, sourceFixed) = (renamed.Length, covered);
        }
        else if (prefix.Length > 0)
        {
            segments = source.Segments;
            (targetFixed, sourceFixed) = (0, 0);
        }
        else if (source.IsInbox)
        {
            return Planned.Composed(source, [LogicalPath.Inbox], SpecialUse.Inbox, subscribe, 1, 1, namer);
        }
        else
        {
            var guessed = source.Folder.Role is SpecialUse.None or SpecialUse.Inbox
                ? SpecialUseNames.Guess(source.Segments)
                : source.Folder.Role;
            if (SpecialUseNames.IsMappedByRole(guessed))
            {
                if (targets.FolderFor(guessed) is var (folder, existing))
                {
                    return new Planned(
                        new FolderMapping(source.Folder, source.Path, folder.FullName, existing, guessed, subscribe),
                        source.Segments, existing.Length, source.Segments.Length);
                }

                // No such folder on the target: create it where clients look for it by default.
                return Planned.Composed(
                    source, [SpecialUseNames.StandardName(guessed)], guessed, subscribe, 1, source.Segments.Length, namer);
            }

            if (SpecialUseNames.IsVirtual(guessed))
            {
                warnings.Add($"Folder \"{source.Folder.FullName}\" is typically a virtual view ({guessed}) of messages held in other folders; copying it duplicates them, so it is usually excluded.");
            }

            segments = source.Segments;
            (targetFixed, sourceFixed) = (0, 0);
        }

        segments = [.. prefix, .. segments];
        var sanitized = namer.Sanitize(segments, out var changed);
        if (changed)
        {
            warnings.Add($"Folder \"{source.Folder.FullName}\" has a name segment containing the target's hierarchy delimiter; it is copied as \"{LogicalPath.Join(sanitized)}\" with the character replaced by '_'.");
        }

        if (namer.IsFlat && sanitized.Length > 1)
        {
            warnings.Add($"The target has no folder hierarchy; \"{source.Folder.FullName}\" is copied as \"{namer.Compose(sanitized)}\".");
        }

        return Planned.Composed(
            source, sanitized, SpecialUse.None, subscribe, prefix.Length + targetFixed, sourceFixed, namer);
    }

    /// <summary>Rename keys as logical paths (INBOX canonical), sorted so the result is stable.</summary>
    private static Dictionary<string, string[]> NormalizeRenames(IReadOnlyDictionary<string, string> renames)
    {
        var result = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var (from, to) in renames.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            var fromSegments = LogicalPath.Split(from);
            var toSegments = LogicalPath.Split(to);
            if (fromSegments.Length == 0 || toSegments.Length == 0)
            {
                throw new ArgumentException($"Rename \"{from}\" -> \"{to}\" needs a folder path on both sides.", nameof(renames));
            }

            if (LogicalPath.IsInbox(fromSegments[0]))
            {
                fromSegments[0] = LogicalPath.Inbox;
            }

            result.TryAdd(LogicalPath.Join(fromSegments), toSegments);
        }

        return result;
    }

    /// <summary>
    /// The longest rename whose source path is this folder or one of its ancestors, as (number of
    /// source segments it covers, replacement segments). Matching whole leading segments means
    /// "Old" never renames "Older", and a segment holding a literal '/' is never split.
    /// </summary>
    private static (int Covered, string[] Replacement)? FindRename(string[] segments, Dictionary<string, string[]> renames)
    {
        for (var covered = segments.Length; covered > 0; covered--)
        {
            if (renames.TryGetValue(LogicalPath.Join(segments[..covered]), out var replacement))
            {
                return (covered, replacement);
            }
        }

        return null;
    }

    private static void WarnAboutMerges(List<Planned> planned, WarningList warnings)
    {
        foreach (var group in planned.GroupBy(p => p.Mapping.TargetName, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            var names = string.Join(", ", group.Select(p => $"\"{p.Mapping.Source.FullName}\""));
            warnings.Add($"Folders {names} all map to target \"{group.Key}\"; their messages are merged there.");
        }
    }

    /// <summary>
    /// Every mapping once, each preceded by the parents the target lacks, so CREATE never fails for
    /// a missing parent on servers that do not create intermediate levels themselves.
    /// </summary>
    private static List<FolderMapping> FoldersToCreate(
        List<Planned> planned,
        List<SourceEntry> sources,
        NamespaceInfo sourceNamespace,
        TargetTree targets,
        TargetNamer namer)
    {
        // Several sources merged into one target: one entry, subscribed if any of them is.
        var mapped = new Dictionary<string, FolderMapping>(StringComparer.Ordinal);
        foreach (var p in planned)
        {
            var m = p.Mapping;
            mapped[m.TargetName] = mapped.TryGetValue(m.TargetName, out var first)
                ? first with { Subscribe = first.Subscribe || m.Subscribe }
                : m;
        }

        var sourceByPath = new Dictionary<string, SourceEntry>(StringComparer.Ordinal);
        foreach (var source in sources)
        {
            sourceByPath.TryAdd(source.Path, source);
        }

        var placeholder = new FolderInfo("", sourceNamespace.Delimiter, Selectable: false);
        var result = new List<FolderMapping>();
        var emitted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in planned)
        {
            // A folder that exists has its parents; a flat target has none.
            var needsParents = !targets.Exists(p.Mapping.TargetName) && !namer.IsFlat;
            var segments = p.Mapping.TargetSegments;
            for (var depth = 1; needsParents && depth < segments.Count; depth++)
            {
                var parentSegments = segments.Take(depth).ToArray();
                var name = namer.Compose(parentSegments);
                if (emitted.Contains(name))
                {
                    continue;
                }

                if (mapped.TryGetValue(name, out var parentMapping))
                {
                    result.Add(parentMapping);
                }
                else if (!targets.Exists(name))
                {
                    var counterpart = p.SourceAt(depth) is { } path && sourceByPath.TryGetValue(path, out var s) ? s : null;
                    result.Add(new FolderMapping(
                        counterpart?.Folder ?? placeholder, counterpart?.Path ?? "", name, parentSegments, SpecialUse.None, Subscribe: false));
                }

                emitted.Add(name);
            }

            if (emitted.Add(p.Mapping.TargetName))
            {
                result.Add(mapped[p.Mapping.TargetName]);
            }
        }

        return result;
    }

    private sealed record SourceEntry(FolderInfo Folder, string[] Segments)
    {
        public string Path { get; } = LogicalPath.Join(Segments);

        public bool IsInbox => Segments is [LogicalPath.Inbox];
    }

    /// <summary>
    /// A mapping plus how its target path relates to its source path: target segments from
    /// <paramref name="TargetFixed"/> on are the source segments from <paramref name="SourceFixed"/>
    /// on. That lets a created parent point back at its source folder (a Gmail "[Gmail]" container).
    /// </summary>
    private sealed record Planned(FolderMapping Mapping, string[] SourceSegments, int TargetFixed, int SourceFixed)
    {
        public static Planned Composed(
            SourceEntry source, string[] segments, SpecialUse role, bool subscribe, int targetFixed, int sourceFixed, TargetNamer namer) =>
            new(new FolderMapping(source.Folder, source.Path, namer.Compose(segments), segments, role, subscribe),
                source.Segments, targetFixed, sourceFixed);

        /// <summary>The logical source path that corresponds to the target's first <paramref name="depth"/> segments, if any.</summary>
        public string? SourceAt(int depth)
        {
            var count = SourceFixed + depth - TargetFixed;
            return depth >= TargetFixed && count >= 1 ? LogicalPath.Join(SourceSegments[..count]) : null;
        }
    }

    /// <summary>Warnings in first-seen order, each once.</summary>
    private sealed class WarningList
    {
        private readonly HashSet<string> seen = new(StringComparer.Ordinal);

        public List<string> Items { get; } = [];

        public void Add(string warning)
        {
            if (seen.Add(warning))
            {
                Items.Add(warning);
            }
        }
    }
}
