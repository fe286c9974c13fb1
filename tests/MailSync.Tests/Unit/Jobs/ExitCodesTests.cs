using MailSync.Core.Jobs;

namespace MailSync.Tests.Unit.Jobs;

public sealed class ExitCodesTests
{
    /// <summary>Every status, most serious first, with the exit code it gives on its own.</summary>
    private static readonly (JobStatus Status, int Code)[] BySeriousness =
    [
        (JobStatus.Interrupted, 130),
        (JobStatus.LedgerFailed, 5),
        (JobStatus.AccountFailed, 4),
        (JobStatus.CertificateRejected, 8),
        (JobStatus.EncryptionUnavailable, 9),
        (JobStatus.ServerUnreachable, 7),
        (JobStatus.Failed, 1),
        (JobStatus.ProtocolViolation, 11),
        (JobStatus.TemporarilyUnavailable, 6),
        (JobStatus.DeletionsHeld, 10),
        (JobStatus.CompletedWithFailures, 3),
        (JobStatus.Succeeded, 0),
    ];

    public static TheoryData<JobStatus, int> Statuses()
    {
        var data = new TheoryData<JobStatus, int>();
        foreach (var (status, code) in BySeriousness)
            data.Add(status, code);
        return data;
    }

    [Theory]
    [MemberData(nameof(Statuses))]
    public void Each_status_alone_gives_its_documented_code(JobStatus status, int code) =>
        Assert.Equal(code, ExitCodes.From([Result(status)]));

    [Fact]
    public void Every_status_has_a_place_in_the_order()
    {
        // A new status must be ranked here, or it would silently exit 0.
        Assert.Equal(Enum.GetValues<JobStatus>().Order(), BySeriousness.Select(s => s.Status).Order());
        Assert.Equal(BySeriousness.Length, BySeriousness.Select(s => s.Code).Distinct().Count());
    }

    [Fact]
    public void The_most_serious_status_decides_whatever_the_job_order()
    {
        for (var i = 0; i < BySeriousness.Length; i++)
        {
            for (var j = i + 1; j < BySeriousness.Length; j++)
            {
                var (serious, code) = BySeriousness[i];
                var lesser = BySeriousness[j].Status;
                Assert.True(code == ExitCodes.From([Result(lesser), Result(serious)]), $"{serious} with {lesser}");
                Assert.True(code == ExitCodes.From([Result(serious), Result(lesser)]), $"{lesser} with {serious}");
            }
        }
    }

    [Fact]
    public void The_new_codes_keep_their_numbers()
    {
        // Scripts match on these numbers (README.md, --help); renumbering would break them.
        Assert.Equal(
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 130],
            [ExitCodes.Success, ExitCodes.InternalError, ExitCodes.ConfigError, ExitCodes.MessagesFailed, ExitCodes.AccountError, ExitCodes.LedgerError,
                ExitCodes.TemporaryFailure, ExitCodes.ServerUnreachable, ExitCodes.CertificateRejected, ExitCodes.EncryptionUnavailable, ExitCodes.DeletionsHeld,
                ExitCodes.ProtocolViolation, ExitCodes.Interrupted]);
    }

    [Fact]
    public void No_jobs_is_success() => Assert.Equal(ExitCodes.Success, ExitCodes.From([]));

    private static JobResult Result(JobStatus status) => new() { Job = status.ToString(), Status = status };
}
