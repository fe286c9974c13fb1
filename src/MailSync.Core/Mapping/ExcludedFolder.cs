using MailSync.Core.Model;

namespace MailSync.Core.Mapping;

/// <summary>A source folder that will not be copied, and why (for the report).</summary>
public sealed record ExcludedFolder(FolderInfo Source, string SourcePath, string Reason);
