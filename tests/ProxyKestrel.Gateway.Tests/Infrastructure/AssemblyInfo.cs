[assembly: Xunit.CollectionBehavior(DisableTestParallelization = false)]
