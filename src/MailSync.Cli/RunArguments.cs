namespace MailSync.Cli;

/// <summary>The parsed options of <c>mailsync run</c>.</summary>
internal sealed record RunArguments(
    FileInfo JobFile,
    IReadOnlyList<string> Jobs,
    FileInfo? State,
    FileInfo? Report,
    bool DryRun,
    bool RetryFailed,
    IReadOnlyList<string> AllowDeletions,
    FileInfo? LogFile,
    bool Verbose);
