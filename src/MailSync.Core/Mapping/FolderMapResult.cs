namespace MailSync.Core.Mapping;

/// <summary>The outcome of mapping a source tree onto a target.</summary>
/// <param name="Mappings">Folders to copy, ordered by source path (ordinal), INBOX first.</param>
/// <param name="Excluded">Folders not copied, same order, each with its reason.</param>
/// <param name="Warnings">Things the user should know before the run (merges, virtual folders,
/// renamed characters), in a stable order.</param>
/// <param name="TargetFoldersToCreate">Every mapping plus the parents missing on the target, parents
/// before children, one entry per target name. Mappings whose folder already exists are still
/// listed: ensuring existence is the engine's idempotent step.</param>
public sealed record FolderMapResult(
    IReadOnlyList<FolderMapping> Mappings,
    IReadOnlyList<ExcludedFolder> Excluded,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<FolderMapping> TargetFoldersToCreate);
