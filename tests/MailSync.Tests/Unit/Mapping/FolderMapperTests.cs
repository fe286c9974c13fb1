using MailSync.Core.Mapping;
using MailSync.Core.Model;
using static MailSync.Tests.Unit.Mapping.FolderFactory;
using static MailSync.Tests.Unit.Mapping.MappingScenario;

namespace MailSync.Tests.Unit.Mapping;

public sealed class FolderMapperTests
{
    private static readonly FolderMappingOptions All = Options();

    public static TheoryData<MappingScenario> Scenarios => new()
    {
        new("Dovecot '/' no prefix -> Courier '.' INBOX. prefix",
            [Slash("INBOX"), Slash("Sent", SpecialUse.Sent), Slash("Archive"), Slash("Archive/2020"), Slash("Work/Project A")], Dovecot,
            [Dot("INBOX"), Dot("INBOX.Sent"), Dot("INBOX.Trash")], Courier,
            All,
            ["INBOX -> INBOX", "Archive -> INBOX.Archive", "Archive/2020 -> INBOX.Archive.2020",
             "Sent -> INBOX.Sent", "Work/Project A -> INBOX.Work.Project A"]),

        new("Courier '.' INBOX. prefix -> Dovecot '/'",
            [Dot("INBOX"), Dot("INBOX.Sent"), Dot("INBOX.Drafts"), Dot("INBOX.a"), Dot("INBOX.a.b")], Courier,
            [Slash("INBOX"), Slash("Sent", SpecialUse.Sent), Slash("Drafts", SpecialUse.Drafts)], Dovecot,
            All,
            ["INBOX -> INBOX", "Drafts -> Drafts", "Sent -> Sent", "a -> a", "a/b -> a/b"]),

        new("Gmail -> Dovecot: system folders by role, virtual ones by name",
            [Slash("INBOX"), Slash("[Gmail]", selectable: false), Slash("[Gmail]/Sent Mail", SpecialUse.Sent),
             Slash("[Gmail]/All Mail", SpecialUse.All), Slash("[Gmail]/Drafts", SpecialUse.Drafts),
             Slash("[Gmail]/Starred", SpecialUse.Flagged), Slash("[Gmail]/Bin", SpecialUse.Trash), Slash("Receipts")], Dovecot,
            [Slash("INBOX"), Slash("Sent", SpecialUse.Sent), Slash("Drafts", SpecialUse.Drafts), Slash("Trash", SpecialUse.Trash)], Dovecot,
            All,
            ["INBOX -> INBOX", "Receipts -> Receipts", "[Gmail]/All Mail -> [Gmail]/All Mail", "[Gmail]/Bin -> Trash",
             "[Gmail]/Drafts -> Drafts", "[Gmail]/Sent Mail -> Sent", "[Gmail]/Starred -> [Gmail]/Starred"]),

        new("Gmail without attributes (no XLIST) -> Courier: roles guessed from names",
            [Slash("INBOX"), Slash("[Google Mail]", selectable: false), Slash("[Google Mail]/Gesendet"), Slash("[Google Mail]/Spam")], Dovecot,
            [Dot("INBOX"), Dot("INBOX.Junk", SpecialUse.Junk)], Courier,
            All,
            ["INBOX -> INBOX", "[Google Mail]/Gesendet -> INBOX.Sent", "[Google Mail]/Spam -> INBOX.Junk"]),

        new("Exchange names -> Dovecot role folders named differently",
            [Slash("INBOX"), Slash("Sent Items"), Slash("Deleted Items"), Slash("Junk E-mail"), Slash("Drafts")], Dovecot,
            [Slash("INBOX"), Slash("Sent Messages", SpecialUse.Sent), Slash("Deleted Messages", SpecialUse.Trash), Slash("Junk")], Dovecot,
            All,
            ["INBOX -> INBOX", "Deleted Items -> Deleted Messages", "Drafts -> Drafts", "Junk E-mail -> Junk",
             "Sent Items -> Sent Messages"]),

        new("No role folder on target -> standard name at top of target namespace",
            [Dot("INBOX"), Dot("INBOX.Gesendete Objekte"), Dot("INBOX.Papierkorb"), Dot("INBOX.Entwürfe"), Dot("INBOX.Archiv"), Dot("INBOX.Spam")], Courier,
            [Dot("INBOX")], Courier,
            All,
            ["INBOX -> INBOX", "Archiv -> INBOX.Archive", "Entwürfe -> INBOX.Drafts", "Gesendete Objekte -> INBOX.Sent",
             "Papierkorb -> INBOX.Trash", "Spam -> INBOX.Junk"]),

        new("Target role by attribute beats a target name that guesses the role",
            [Slash("Sent", SpecialUse.Sent)], Dovecot,
            [Slash("Sent"), Slash("Gesendet", SpecialUse.Sent)], Dovecot,
            All,
            ["Sent -> Gesendet"]),

        new("Several target folders guess to the role: the plain English name wins",
            [Slash("Sent Items")], Dovecot,
            [Slash("[Gmail]/Sent Mail"), Slash("Sent Items"), Slash("Sent")], Dovecot,
            All,
            ["Sent Items -> Sent"]),

        new("Role folders below the top level are ordinary folders",
            [Slash("Work"), Slash("Work/Sent")], Dovecot,
            [Slash("Sent", SpecialUse.Sent)], Dovecot,
            All,
            ["Work -> Work", "Work/Sent -> Work/Sent"]),

        new("Rename beats role mapping, moves children, longest rule wins, whole segments only",
            [Slash("Sent", SpecialUse.Sent), Slash("Projects"), Slash("Projects/2019"), Slash("Projects/2020"),
             Slash("Projects/2020/Q1"), Slash("Projectsx")], Dovecot,
            [Dot("INBOX.Sent", SpecialUse.Sent)], Courier,
            Options(renames: new() { ["Sent"] = "Old Sent", ["Projects"] = "Work", ["Projects/2020/"] = "/Archive/Projects 2020" }),
            ["Projects -> INBOX.Work", "Projects/2019 -> INBOX.Work.2019", "Projects/2020 -> INBOX.Archive.Projects 2020",
             "Projects/2020/Q1 -> INBOX.Archive.Projects 2020.Q1", "Projectsx -> INBOX.Projectsx", "Sent -> INBOX.Old Sent"]),

        new("Rename keys match INBOX in any case",
            [Slash("INBOX"), Slash("INBOX/Sub")], Dovecot,
            [], Dovecot,
            Options(renames: new() { ["inbox"] = "Old Inbox" }),
            ["INBOX -> Old Inbox", "INBOX/Sub -> Old Inbox/Sub"]),

        new("TargetPrefix: tree under the prefix verbatim, INBOX included, no role mapping",
            [Slash("INBOX"), Slash("Sent", SpecialUse.Sent), Slash("Sent Items"), Slash("a/b")], Dovecot,
            [Dot("INBOX"), Dot("INBOX.Sent", SpecialUse.Sent)], Courier,
            Options(prefix: "Imported/old"),
            ["INBOX -> INBOX.Imported.old.INBOX", "Sent -> INBOX.Imported.old.Sent", "Sent Items -> INBOX.Imported.old.Sent Items",
             "a/b -> INBOX.Imported.old.a.b"]),

        new("TargetPrefix applies on top of renames",
            [Slash("Old")], Dovecot,
            [], Dovecot,
            Options(renames: new() { ["Old"] = "New" }, prefix: "Imported"),
            ["Old -> Imported/New"]),

        new("Case-insensitive INBOX on the source",
            [Slash("Inbox"), Slash("inbox/Sub"), Slash("inbox.Sub2")], Dovecot,
            [Dot("INBOX")], Courier,
            All,
            ["INBOX -> INBOX", "INBOX/Sub -> INBOX.INBOX.Sub", "inbox.Sub2 -> INBOX.inbox_Sub2"]),

        new("Courier namespace prefix in another case is still stripped",
            [Dot("inbox.Projects")], Courier,
            [], Dovecot,
            All,
            ["Projects -> Projects"]),

        new("Namespace prefix announced without its delimiter",
            [Dot("INBOX.Projects")], new NamespaceInfo("INBOX", '.'),
            [], new NamespaceInfo("INBOX", '.'),
            All,
            ["Projects -> INBOX.Projects"]),

        new("Delimiter inside a segment: literal '/' from a '.' source, literal '.' to a '.' target",
            [Dot("INBOX.a/b"), Dot("INBOX.x/y.z")], Courier,
            [], Dovecot,
            All,
            ["a/b -> a_b", "x/y/z -> x_y/z"]),

        new("Delimiter inside a segment going to a '.' target",
            [Slash("v1.2"), Slash("Releases/v2.0")], Dovecot,
            [], Courier,
            All,
            ["Releases/v2.0 -> INBOX.Releases.v2_0", "v1.2 -> INBOX.v1_2"]),

        new("Flat target joins levels with '_'",
            [Slash("INBOX"), Slash("Archive/2020"), Slash("Notes")], Dovecot,
            [], Flat,
            All,
            ["INBOX -> INBOX", "Archive/2020 -> Archive_2020", "Notes -> Notes"]),

        new("Flat source: the whole name is one segment",
            [new FolderInfo("a/b.c", '\0')], Flat,
            [], Dovecot,
            All,
            ["a/b.c -> a_b.c"]),

        new("Output order is by source path, INBOX first, whatever the listing order",
            [Slash("b"), Slash("INBOX/a"), Slash("A"), Slash("INBOX"), Slash("a")], Dovecot,
            [], Dovecot,
            All,
            ["INBOX -> INBOX", "A -> A", "INBOX/a -> INBOX/a", "a -> a", "b -> b"]),
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Maps_source_paths_to_target_names(MappingScenario scenario) =>
        Assert.Equal(scenario.Expected, Lines(scenario.Run().Mappings));

    [Fact]
    public void Roles_inbox_and_segments_are_reported()
    {
        var result = FolderMapper.Map(
            [Dot("inbox"), Dot("INBOX.Sent Items"), Dot("INBOX.Sent"), Dot("INBOX.a.b")], Courier,
            [Slash("INBOX"), Slash("Sent Messages", SpecialUse.Sent)], Dovecot, All);

        var byPath = result.Mappings.ToDictionary(m => m.SourcePath);
        Assert.Equal(SpecialUse.Inbox, byPath["INBOX"].Role);
        Assert.Equal(["INBOX"], byPath["INBOX"].TargetSegments);
        Assert.Equal(SpecialUse.Sent, byPath["Sent Items"].Role);
        Assert.Equal(["Sent Messages"], byPath["Sent Items"].TargetSegments);
        Assert.Equal(SpecialUse.None, byPath["a/b"].Role);
        Assert.Equal(["a", "b"], byPath["a/b"].TargetSegments);
    }

    [Fact]
    public void Rename_and_prefix_turn_role_mapping_off()
    {
        var renamed = FolderMapper.Map([Slash("Sent", SpecialUse.Sent)], Dovecot, [], Dovecot,
            Options(renames: new() { ["Sent"] = "Sent 2019" }));
        var prefixed = FolderMapper.Map([Slash("INBOX"), Slash("Sent", SpecialUse.Sent)], Dovecot, [], Dovecot,
            Options(prefix: "Old"));

        Assert.Equal(SpecialUse.None, Assert.Single(renamed.Mappings).Role);
        Assert.All(prefixed.Mappings, m => Assert.Equal(SpecialUse.None, m.Role));
    }

    [Fact]
    public void Gmail_virtual_folders_are_mapped_by_name_with_a_warning()
    {
        var result = FolderMapper.Map(
            [Slash("INBOX"), Slash("[Gmail]", selectable: false), Slash("[Gmail]/All Mail", SpecialUse.All),
             Slash("[Gmail]/Important", SpecialUse.Important), Slash("[Gmail]/Sent Mail", SpecialUse.Sent)], Dovecot,
            [Slash("INBOX"), Slash("Sent", SpecialUse.Sent)], Dovecot, All);

        Assert.Equal(SpecialUse.None, result.Mappings.Single(m => m.SourcePath == "[Gmail]/All Mail").Role);
        Assert.Equal(2, result.Warnings.Count(w => w.Contains("virtual view", StringComparison.Ordinal)));
        Assert.Contains(result.Warnings, w => w.Contains("\"[Gmail]/All Mail\"", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, w => w.Contains("\"[Gmail]/Important\"", StringComparison.Ordinal));
        var container = Assert.Single(result.Excluded);
        Assert.Equal(("[Gmail]", "not selectable"), (container.SourcePath, container.Reason));
    }

    [Fact]
    public void Gmail_container_is_created_as_parent_from_its_source_folder()
    {
        var gmail = Slash("[Gmail]", subscribed: true, selectable: false);
        var result = FolderMapper.Map(
            [Slash("INBOX"), gmail, Slash("[Gmail]/All Mail", SpecialUse.All, subscribed: true), Slash("[Gmail]/Sent Mail", SpecialUse.Sent)], Dovecot,
            [Slash("INBOX"), Slash("Sent", SpecialUse.Sent)], Dovecot, All);

        Assert.Equal(["INBOX -> INBOX", "[Gmail] -> [Gmail]", "[Gmail]/All Mail -> [Gmail]/All Mail", "[Gmail]/Sent Mail -> Sent"],
            Lines(result.TargetFoldersToCreate));
        var parent = result.TargetFoldersToCreate[1];
        Assert.Same(gmail, parent.Source);
        Assert.False(parent.Subscribe);
    }

    [Fact]
    public void Merged_folders_are_warned_about_and_created_once()
    {
        var result = FolderMapper.Map(
            [Slash("Sent", SpecialUse.Sent), Slash("Sent Items", subscribed: true), Slash("Sent Messages")], Dovecot,
            [Slash("INBOX")], Dovecot, All);

        Assert.Equal(["Sent -> Sent", "Sent Items -> Sent", "Sent Messages -> Sent"], Lines(result.Mappings));
        var warning = Assert.Single(result.Warnings);
        Assert.Contains("\"Sent\", \"Sent Items\", \"Sent Messages\"", warning, StringComparison.Ordinal);
        Assert.Contains("target \"Sent\"", warning, StringComparison.Ordinal);
        var created = Assert.Single(result.TargetFoldersToCreate);
        Assert.True(created.Subscribe);
    }

    [Fact]
    public void Distinct_folders_produce_no_warnings()
    {
        var result = FolderMapper.Map(
            [Slash("INBOX"), Slash("Sent"), Slash("Work/2020")], Dovecot, [Dot("INBOX"), Dot("INBOX.Sent")], Courier, All);

        Assert.Empty(result.Warnings);
    }

    public static TheoryData<string[], string[], string[], string[]> Filters => new()
    {
        // include, exclude, mapped, excluded "path: reason"
        { [], [], ["INBOX", "Trash", "Work", "Work/2020", "Work/2020/Q1", "Work/Private"], [] },
        { [], ["Trash"], ["INBOX", "Work", "Work/2020", "Work/2020/Q1", "Work/Private"], ["Trash: excluded by pattern \"Trash\""] },
        { ["Work/%"], [], ["Work/2020", "Work/Private"],
          ["INBOX: not included", "Trash: not included", "Work: not included", "Work/2020/Q1: not included"] },
        { ["Work/*"], [], ["Work/2020", "Work/2020/Q1", "Work/Private"],
          ["INBOX: not included", "Trash: not included", "Work: not included"] },
        { ["INBOX", "Work*"], ["work/private", "Work/2020/%"], ["INBOX", "Work", "Work/2020"],
          ["Trash: not included", "Work/2020/Q1: excluded by pattern \"Work/2020/%\"", "Work/Private: excluded by pattern \"work/private\""] },
        { ["*"], ["*"], [],
          ["INBOX: excluded by pattern \"*\"", "Trash: excluded by pattern \"*\"", "Work: excluded by pattern \"*\"",
           "Work/2020: excluded by pattern \"*\"", "Work/2020/Q1: excluded by pattern \"*\"", "Work/Private: excluded by pattern \"*\""] },
    };

    [Theory]
    [MemberData(nameof(Filters))]
    public void Include_and_exclude_globs(string[] include, string[] exclude, string[] mapped, string[] excluded)
    {
        var result = FolderMapper.Map(
            [Slash("Work/Private"), Slash("Work/2020/Q1"), Slash("Work/2020"), Slash("Work"), Slash("Trash"), Slash("INBOX")], Dovecot,
            [], Dovecot, Options(include, exclude));

        Assert.Equal(mapped, result.Mappings.Select(m => m.SourcePath));
        Assert.Equal(excluded, result.Excluded.Select(e => $"{e.SourcePath}: {e.Reason}"));
    }

    [Fact]
    public void Not_selectable_wins_over_filters_and_children_are_still_mapped()
    {
        var result = FolderMapper.Map(
            [Dot("INBOX.Lists", selectable: false), Dot("INBOX.Lists.dev")], Courier, [], Dovecot, Options(include: ["Lists*"]));

        Assert.Equal(["Lists/dev -> Lists/dev"], Lines(result.Mappings));
        Assert.Equal("not selectable", Assert.Single(result.Excluded).Reason);
        Assert.Equal(["Lists -> Lists", "Lists/dev -> Lists/dev"], Lines(result.TargetFoldersToCreate));
    }

    public static TheoryData<string, FolderInfo[], FolderInfo[], NamespaceInfo, FolderMappingOptions, string[]> Creation => new()
    {
        // name, source (Dovecot), target listing, target namespace, options, expected "target name (subscribe)"
        { "missing parents first, unsubscribed", [Slash("a/b/c", subscribed: true)], [], Dovecot, All,
          ["a (False)", "a/b (False)", "a/b/c (True)"] },
        { "a mapped parent is listed as its mapping", [Slash("a/b"), Slash("a", subscribed: true)], [], Dovecot, All,
          ["a (True)", "a/b (False)"] },
        { "parents that exist on the target are not created", [Slash("a/b/c")], [Dot("INBOX.a")], Courier, All,
          ["INBOX.a.b (False)", "INBOX.a.b.c (False)"] },
        { "a rename into a folder mapped later puts that folder first", [Slash("x"), Slash("z", subscribed: true)], [], Dovecot,
          Options(renames: new() { ["x"] = "z/y" }), ["z (True)", "z/y (False)"] },
        { "INBOX children do not recreate INBOX", [Slash("INBOX"), Slash("INBOX/Sub")], [], Dovecot, All,
          ["INBOX (True)", "INBOX/Sub (False)"] },
        { "prefix parents", [Slash("INBOX")], [Dot("INBOX")], Courier, Options(prefix: "Old/Mail"),
          ["INBOX.Old (False)", "INBOX.Old.Mail (False)", "INBOX.Old.Mail.INBOX (True)"] },
        { "existing role folder needs no parents", [Slash("Sent")], [Slash("[Gmail]/Sent Mail", SpecialUse.Sent)], Dovecot, All,
          ["[Gmail]/Sent Mail (False)"] },
        { "flat target has no parents", [Slash("a/b")], [], Flat, All,
          ["a_b (False)"] },
    };

    [Theory]
    [MemberData(nameof(Creation))]
    public void Target_folders_to_create(
        string name, FolderInfo[] source, FolderInfo[] target, NamespaceInfo targetNamespace, FolderMappingOptions options, string[] expected)
    {
        var result = FolderMapper.Map(source, Dovecot, target, targetNamespace, options);

        Assert.True(expected.SequenceEqual(result.TargetFoldersToCreate.Select(m => $"{m.TargetName} ({m.Subscribe})")),
            $"{name}: {string.Join(", ", result.TargetFoldersToCreate.Select(m => $"{m.TargetName} ({m.Subscribe})"))}");
    }

    [Fact]
    public void Created_parents_without_a_source_folder_are_placeholders()
    {
        var result = FolderMapper.Map([Slash("Old")], Dovecot, [], Dovecot, Options(renames: new() { ["Old"] = "New/Deep" }));

        var parent = result.TargetFoldersToCreate[0];
        Assert.Equal(("New", "", "", false, false), (parent.TargetName, parent.SourcePath, parent.Source.FullName, parent.Source.Selectable, parent.Subscribe));
        Assert.Equal(["New"], parent.TargetSegments);
    }

    [Fact]
    public void Renamed_parent_points_back_at_its_source()
    {
        var old = Slash("Old", selectable: false);
        var result = FolderMapper.Map([old, Slash("Old/Sub")], Dovecot, [], Dovecot, Options(renames: new() { ["Old"] = "New" }));

        Assert.Equal(["Old -> New", "Old/Sub -> New/Sub"], Lines(result.TargetFoldersToCreate));
        Assert.Same(old, result.TargetFoldersToCreate[0].Source);
    }

    [Theory]
    [InlineData("INBOX", false, true)]
    [InlineData("Work", true, true)]
    [InlineData("Work", false, false)]
    public void Subscription_follows_the_source_and_INBOX_is_always_subscribed(string folder, bool subscribed, bool expected)
    {
        var result = FolderMapper.Map([Slash(folder, subscribed: subscribed)], Dovecot, [], Courier, All);

        Assert.Equal(expected, Assert.Single(result.Mappings).Subscribe);
    }

    [Fact]
    public void Delimiter_replacement_is_warned_naming_the_folder()
    {
        var result = FolderMapper.Map([Dot("INBOX.a/b"), Dot("INBOX.c")], Courier, [], Dovecot, All);

        var warning = Assert.Single(result.Warnings);
        Assert.Contains("\"INBOX.a/b\"", warning, StringComparison.Ordinal);
        Assert.Contains("\"a_b\"", warning, StringComparison.Ordinal);
        Assert.Equal(["a_b"], result.Mappings[0].TargetSegments);
    }

    [Fact]
    public void Flat_target_is_warned_for_nested_folders_only()
    {
        var result = FolderMapper.Map([Slash("INBOX"), Slash("Notes"), Slash("Archive/2020")], Dovecot, [], Flat, All);

        var warning = Assert.Single(result.Warnings);
        Assert.Contains("\"Archive/2020\"", warning, StringComparison.Ordinal);
        Assert.Contains("\"Archive_2020\"", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Round_trip_Dovecot_to_Courier_and_back_keeps_names()
    {
        FolderInfo[] dovecot = [Slash("INBOX"), Slash("Archive"), Slash("Archive/2020"), Slash("Lists/dev"), Slash("INBOX/Sub")];

        var there = FolderMapper.Map(dovecot, Dovecot, [], Courier, All);
        var courier = there.TargetFoldersToCreate.Select(m => Dot(m.TargetName)).ToArray();
        var back = FolderMapper.Map(courier, Courier, [], Dovecot, All);

        Assert.Equal(
            ["INBOX", "Archive", "Archive/2020", "INBOX/Sub", "Lists", "Lists/dev"],
            back.Mappings.Select(m => m.TargetName));
    }

    [Fact]
    public void Empty_rename_is_rejected()
    {
        Assert.Throws<ArgumentException>(() =>
            FolderMapper.Map([Slash("a")], Dovecot, [], Dovecot, Options(renames: new() { ["a"] = " / " })));
    }
}
