namespace MailSync.Core.Config;

/// <summary>
/// One problem in a job file. <see cref="Location"/> is a JSON-path-like pointer such as
/// <c>jobs[0].target</c> or <c>accounts.old.port</c>, or the file path for file-level problems.
/// </summary>
public sealed record ConfigError(string Location, string Message)
{
    public override string ToString() => $"{Location}: {Message}";
}
