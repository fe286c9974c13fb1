namespace MailSync.Core.Config;

/// <summary>
/// The outcome of loading a job file: the configuration when it is valid, otherwise every
/// problem found (and no configuration, so nothing half-valid can be run by mistake).
/// </summary>
public sealed record ConfigLoadResult(MailSyncConfig? Config, IReadOnlyList<ConfigError> Errors)
{
    public bool IsValid => Errors.Count == 0 && Config != null;
}
