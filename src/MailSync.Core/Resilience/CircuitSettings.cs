namespace MailSync.Core.Resilience;

/// <summary>When a server's circuit opens and for how long (see <see cref="ServerCircuits"/>).</summary>
public sealed record CircuitSettings
{
    /// <summary>Failed connection attempts within <see cref="SamplingDuration"/>, with none succeeding, that open the circuit.</summary>
    public int FailuresToOpen { get; init; } = 4;

    public TimeSpan SamplingDuration { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How long every account waits before one of them tries the server again.</summary>
    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(30);
}
