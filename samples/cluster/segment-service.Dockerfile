# Crate.SegmentService in a container (samples/cluster/kubernetes/segment-service.yaml; docs/scaling.md).
# Build from the repository root:
#   docker build -f samples/cluster/segment-service.Dockerfile -t crate-segment-service:cpu .
#   docker build -f samples/cluster/segment-service.Dockerfile --build-arg TORCH_BACKEND=cuda -t crate-segment-service:cuda .
# The ASP.NET Core runtime image listens on port 8080 (ASPNETCORE_HTTP_PORTS).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG TORCH_BACKEND=cpu
WORKDIR /src
COPY . .
RUN dotnet publish samples/Crate.SegmentService -c Release -o /app -p:TorchSharpBackend=${TORCH_BACKEND}

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
USER $APP_UID
ENTRYPOINT ["dotnet", "/app/Crate.SegmentService.dll"]
