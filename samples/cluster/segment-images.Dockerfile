# Crate.SegmentImages in a container, for batch schedulers that start N copies with an index (docs/scaling.md).
# Build from the repository root:
#   docker build -f samples/cluster/segment-images.Dockerfile -t crate-segment-images:cpu .
#   docker build -f samples/cluster/segment-images.Dockerfile --build-arg TORCH_BACKEND=cuda -t crate-segment-images:cuda .
# The two images differ only in the TorchSharp backend package (the CUDA one bundles libtorch's CUDA libraries and
# needs the NVIDIA container runtime on the node); the code and the base image are the same.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG TORCH_BACKEND=cpu
WORKDIR /src
COPY . .
RUN dotnet publish samples/Crate.SegmentImages -c Release -o /app -p:TorchSharpBackend=${TORCH_BACKEND}

FROM mcr.microsoft.com/dotnet/runtime:10.0
WORKDIR /app
COPY --from=build /app .
# Unprivileged, as the .NET images provide; outputs go to a mounted volume.
USER $APP_UID
ENTRYPOINT ["dotnet", "/app/Crate.SegmentImages.dll"]
