using Crate.Trainers;

namespace Crate.Emergence;

/// <summary>What the experiment tells whoever watches it (the console display, or nothing in tests).</summary>
public interface IExperimentProgress
{
    /// <summary>The run has <paramref name="units"/> units of work in all (training epochs and measurements), for an overall ETA.</summary>
    void Planned(int units);

    /// <summary>Work on <paramref name="model"/> (and <paramref name="seed"/>) moves to <paramref name="stage"/>.</summary>
    void Stage(string model, int? seed, string stage);

    /// <summary>A training report of <paramref name="model"/> with <paramref name="seed"/>, out of <paramref name="epochs"/> epochs.</summary>
    void Training(string model, int seed, int epochs, CrateTrainingProgress progress);

    /// <summary>One unit of the planned work is done.</summary>
    void Advance();

    /// <summary>A line worth keeping (a result, a warning).</summary>
    void Note(string line);
}

/// <summary>Watches nothing.</summary>
public sealed class NoProgress : IExperimentProgress
{
    /// <inheritdoc/>
    public void Planned(int units)
    {
    }

    /// <inheritdoc/>
    public void Stage(string model, int? seed, string stage)
    {
    }

    /// <inheritdoc/>
    public void Training(string model, int seed, int epochs, CrateTrainingProgress progress)
    {
    }

    /// <inheritdoc/>
    public void Advance()
    {
    }

    /// <inheritdoc/>
    public void Note(string line)
    {
    }
}
