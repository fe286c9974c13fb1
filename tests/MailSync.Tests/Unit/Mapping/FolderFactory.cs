using MailSync.Core.Mapping;
using MailSync.Core.Model;

namespace MailSync.Tests.Unit.Mapping;

/// <summary>Short spellings for folder listings and options, so a table row fits on a line.</summary>
internal static class FolderFactory
{
    public static FolderInfo Slash(string name, SpecialUse role = SpecialUse.None, bool subscribed = false, bool selectable = true) =>
        new(name, '/', role, subscribed, selectable);

    public static FolderInfo Dot(string name, SpecialUse role = SpecialUse.None, bool subscribed = false, bool selectable = true) =>
        new(name, '.', role, subscribed, selectable);

    public static FolderMappingOptions Options(
        string[]? include = null, string[]? exclude = null, Dictionary<string, string>? renames = null, string? prefix = null) =>
        new(include ?? [], exclude ?? [], renames ?? [], prefix);
}
