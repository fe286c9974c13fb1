using MailSync.Core.Mapping;
using MailSync.Core.Model;

namespace MailSync.Tests.Unit.Mapping;

/// <summary>
/// One row of the mapping tables: two servers as they list themselves, the job's options, and the
/// expected "source path -> target name" lines. ToString is the name the test runner shows.
/// </summary>
public sealed record MappingScenario(
    string Name,
    FolderInfo[] Source,
    NamespaceInfo SourceNamespace,
    FolderInfo[] Target,
    NamespaceInfo TargetNamespace,
    FolderMappingOptions Options,
    string[] Expected)
{
    public static readonly NamespaceInfo Dovecot = new("", '/');
    public static readonly NamespaceInfo Courier = new("INBOX.", '.');
    public static readonly NamespaceInfo Flat = new("", '\0');

    public FolderMapResult Run() => FolderMapper.Map(Source, SourceNamespace, Target, TargetNamespace, Options);

    public static string[] Lines(IEnumerable<FolderMapping> mappings) =>
        mappings.Select(m => $"{m.SourcePath} -> {m.TargetName}").ToArray();

    public override string ToString() => Name;
}
