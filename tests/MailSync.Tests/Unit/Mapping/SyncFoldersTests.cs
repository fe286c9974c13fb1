using MailSync.Core.Checkpoints;
using MailSync.Core.Mapping;
using MailSync.Core.Model;
using MailSync.Core.Sync.TwoWay;
using static MailSync.Tests.Unit.Mapping.FolderFactory;
using static MailSync.Tests.Unit.Mapping.MappingScenario;

namespace MailSync.Tests.Unit.Mapping;

/// <summary>
/// The two-way folder pairing: A's tree maps onto B as in migrate, a folder only B has maps back by
/// the inverse rules when mapping it forward again gives the same folder, and nothing pairs twice.
/// Each row: A's folders, B's folders, options → "A name <-> B name" pairs (a side's name in
/// parentheses when that side lacks the folder and it would be created there).
/// </summary>
public sealed class SyncFoldersTests
{
    public static TheoryData<string, FolderInfo[], NamespaceInfo, FolderInfo[], NamespaceInfo, FolderMappingOptions, string[]> Rows() => new()
    {
        { "same layout: pairs by name, new folders on either side", [Slash("INBOX"), Slash("Archive"), Slash("Archive/2020")], Dovecot,
            [Slash("INBOX"), Slash("Archive"), Slash("Notes")], Dovecot, Options(),
            ["INBOX <-> INBOX", "Archive <-> Archive", "Archive/2020 <-> (Archive/2020)", "(Notes) <-> Notes"] },
        { "Dovecot '/' <-> Courier '.' INBOX. prefix, both ways", [Slash("INBOX"), Slash("Work/Project A")], Dovecot,
            [Dot("INBOX"), Dot("INBOX.Lists"), Dot("INBOX.Lists.dev")], Courier, Options(),
            ["INBOX <-> INBOX", "Work/Project A <-> (INBOX.Work.Project A)", "(Lists) <-> INBOX.Lists", "(Lists/dev) <-> INBOX.Lists.dev"] },
        { "role folders named differently pair by role", [Slash("INBOX"), Slash("Sent Items", SpecialUse.Sent)], Dovecot,
            [Slash("INBOX"), Slash("Sent", SpecialUse.Sent)], Dovecot, Options(),
            ["INBOX <-> INBOX", "Sent Items <-> Sent"] },
        { "renames apply both ways", [Slash("INBOX"), Slash("Old")], Dovecot,
            [Slash("INBOX"), Slash("New"), Slash("Other")], Dovecot, Options(renames: new() { ["Old"] = "New" }),
            ["INBOX <-> INBOX", "Old <-> New", "(Other) <-> Other"] },
        { "targetPrefix: B's folders outside the prefix are not the job's", [Slash("INBOX"), Slash("Archive")], Dovecot,
            [Slash("INBOX"), Slash("Home"), Slash("Home/INBOX"), Slash("Home/Archive"), Slash("Home/Trips"), Slash("Private")], Dovecot, Options(prefix: "Home"),
            ["INBOX <-> Home/INBOX", "Archive <-> Home/Archive", "(Trips) <-> Home/Trips"] },
        { "exclude applies to B-only folders too", [Slash("INBOX")], Dovecot,
            [Slash("INBOX"), Slash("Spam"), Slash("Keep")], Dovecot, Options(exclude: ["Spam"]),
            ["INBOX <-> INBOX", "(Keep) <-> Keep"] },
        { "two A folders onto one B folder: only the first is synced", [Slash("INBOX"), Slash("Sent", SpecialUse.Sent), Slash("Sent Items")], Dovecot,
            [Slash("INBOX"), Slash("Sent", SpecialUse.Sent)], Dovecot, Options(),
            ["INBOX <-> INBOX", "Sent <-> Sent"] },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Folders_pair_one_to_one_both_ways(
        string name, FolderInfo[] a, NamespaceInfo nsA, FolderInfo[] b, NamespaceInfo nsB, FolderMappingOptions options, string[] expected)
    {
        var (folders, _) = SyncFolders.Decide(new Sides<IReadOnlyList<FolderInfo>>(a, b), new Sides<NamespaceInfo>(nsA, nsB), options, []);
        var lines = folders.Select(f => $"{(f.A is null ? $"({f.NameA})" : f.NameA)} <-> {(f.B is null ? $"({f.NameB})" : f.NameB)}").ToArray();
        Assert.True(expected.Order().SequenceEqual(lines.Order()), $"{name}: {string.Join(", ", lines)}");
        Assert.Equal(folders.Count, folders.Select(f => f.NameA).Distinct().Count());
        Assert.Equal(folders.Count, folders.Select(f => f.NameB).Distinct().Count());
    }

    /// <summary>
    /// Migrate's pairing (one-way into B): several A folders may fill one B folder, each its own
    /// pair; B-only folders are not the job's; a known pair follows the mapping as it is now.
    /// </summary>
    public static TheoryData<string, FolderInfo[], FolderInfo[], FolderMappingOptions, string[]> MergeRows() => new()
    {
        { "two A folders of one role fill B's one", [Slash("INBOX"), Slash("Sent", SpecialUse.Sent), Slash("Sent Items", SpecialUse.Sent)],
            [Slash("INBOX"), Slash("Sent", SpecialUse.Sent)], Options(),
            ["INBOX -> INBOX", "Sent -> Sent", "Sent Items -> Sent"] },
        { "two A folders renamed onto one name, B-only folders left out", [Slash("INBOX"), Slash("Old"), Slash("Older")],
            [Slash("INBOX"), Slash("Mine")], Options(renames: new() { ["Older"] = "Old" }),
            ["INBOX -> INBOX", "Old -> (Old)", "Older -> (Old)"] },
        { "a rename onto an existing folder merges into it", [Slash("INBOX"), Slash("Archive"), Slash("Archive2")],
            [Slash("INBOX"), Slash("Archive")], Options(renames: new() { ["Archive2"] = "Archive" }),
            ["INBOX -> INBOX", "Archive -> Archive", "Archive2 -> Archive"] },
    };

    [Theory]
    [MemberData(nameof(MergeRows))]
    public void One_way_into_B_folders_may_merge(string name, FolderInfo[] a, FolderInfo[] b, FolderMappingOptions options, string[] expected)
    {
        var (folders, _) = SyncFolders.Decide(new Sides<IReadOnlyList<FolderInfo>>(a, b), new Sides<NamespaceInfo>(Dovecot, Dovecot), options, [], mergeIntoB: true);
        var lines = folders.Select(f => $"{f.NameA} -> {(f.B is null ? $"({f.NameB})" : f.NameB)}").ToArray();
        Assert.True(expected.Order().SequenceEqual(lines.Order()), $"{name}: {string.Join(", ", lines)}");
    }

    [Fact]
    public void One_way_a_known_pair_whose_folder_is_now_mapped_elsewhere_is_replaced_by_a_new_pair()
    {
        var known = new SyncPairState { Id = 1, Job = "j", NameA = "Projects", NameB = "Work", CompletedUtc = DateTimeOffset.UnixEpoch, Mode = "migrate" };
        var kept = new SyncPairState { Id = 2, Job = "j", NameA = "INBOX", NameB = "INBOX", CompletedUtc = DateTimeOffset.UnixEpoch, Mode = "migrate" };
        var (folders, _) = SyncFolders.Decide(
            new Sides<IReadOnlyList<FolderInfo>>([Slash("INBOX"), Slash("Projects")], [Slash("INBOX"), Slash("Work")]), new Sides<NamespaceInfo>(Dovecot, Dovecot),
            Options(), [known, kept], mergeIntoB: true);
        var projects = Assert.Single(folders, f => f.NameA == "Projects");
        Assert.Equal("Projects", projects.NameB);
        Assert.Null(projects.Pair);
        Assert.Same(known, projects.Replaces);
        var inbox = Assert.Single(folders, f => f.NameA == "INBOX");
        Assert.Same(kept, inbox.Pair);
        Assert.Null(inbox.Replaces);
    }

    [Fact]
    public void A_pair_the_ledger_knows_keeps_its_names_and_one_gone_from_both_sides_is_listed_to_be_forgotten()
    {
        var known = new SyncPairState { Id = 1, Job = "j", NameA = "Projects", NameB = "Work", CompletedUtc = DateTimeOffset.UnixEpoch };
        var gone = new SyncPairState { Id = 2, Job = "j", NameA = "Old", NameB = "Old", CompletedUtc = DateTimeOffset.UnixEpoch };
        var (folders, _) = SyncFolders.Decide(
            new Sides<IReadOnlyList<FolderInfo>>([Slash("INBOX"), Slash("Projects")], [Slash("INBOX")]), new Sides<NamespaceInfo>(Dovecot, Dovecot), Options(), [known, gone]);
        var projects = Assert.Single(folders, f => f.NameA == "Projects");
        Assert.Equal(("Work", (object?)known), (projects.NameB, projects.Pair));
        Assert.Null(projects.B);
        var forgotten = Assert.Single(folders, f => f.NameA == "Old");
        Assert.Null(forgotten.A);
        Assert.Null(forgotten.B);
    }
}
